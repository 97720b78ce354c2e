// Open a profile in a local build of the Firefox Profiler in headless
// Chromium and screenshot it:
//   node firefox-profiler.mjs DIST PROFILE OUT.png [VIEW]
// DIST: the profiler's built dist/ (see README.md); VIEW: calltree
// (default), flame-graph or stack-chart. The profiler loads the file from
// /from-url/, served with the build by a small HTTP server (unknown paths
// get index.html, as the profiler's routes need).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [dist, profile, out, view = 'calltree'] = process.argv.slice(2);
if (!dist || !profile || !out) {
  console.error('usage: node firefox-profiler.mjs DIST PROFILE OUT.png [VIEW]');
  process.exit(2);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };
const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url.split('?')[0]);
  let file = url === '/profile.json' ? path.resolve(profile) : path.join(dist, path.normalize(url));
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, 'index.html');
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(data);
  });
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
  defaultViewport: { width: 1600, height: 1000 },
});
let status = 0;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${base}/from-url/${encodeURIComponent(base + '/profile.json')}/${view}/`,
    { waitUntil: 'networkidle0', timeout: 90000 });
  await new Promise(r => setTimeout(r, Number(process.env.WAIT_MS || 4000)));
  await page.screenshot({ path: out });
  const text = await page.evaluate(() => document.body.innerText);
  console.log('page text:', text.replace(/\s+/g, ' ').slice(0, 600));
  if (/couldn.t|error|unrecognized|failed/i.test(text.slice(0, 400))) status = 1;
  if (errors.length) console.log('console errors:', errors.slice(0, 5).join(' | '));
} finally {
  await browser.close();
  server.close();
}
process.exit(status);
