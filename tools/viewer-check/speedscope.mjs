// Open a profile in a local speedscope build in headless Chromium and
// screenshot it: node speedscope.mjs PROFILE OUT.png
// speedscope loads it from #profileURL=, served by a small HTTP server
// over this directory and the profile's.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const [profile, out] = process.argv.slice(2);
if (!profile || !out) {
  console.error('usage: node speedscope.mjs PROFILE OUT.png');
  process.exit(2);
}
const root = path.join(here, 'node_modules', 'speedscope', 'dist', 'release');
const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url.split('?')[0].split('#')[0]);
  const file = url === '/profile' ? path.resolve(profile) : path.join(root, path.normalize(url));
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(data);
  });
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
  defaultViewport: { width: 1400, height: 800 },
});
let status = 0;
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('dialog', async d => { errors.push('dialog: ' + d.message()); await d.dismiss(); });
  await page.goto(`http://127.0.0.1:${port}/index.html#profileURL=${encodeURIComponent(`http://127.0.0.1:${port}/profile`)}&title=check`,
    { waitUntil: 'networkidle0', timeout: 60000 });
  await new Promise(r => setTimeout(r, 3000));
  await page.screenshot({ path: out });
  const text = await page.evaluate(() => document.body.innerText);
  console.log('page text:', text.replace(/\s+/g, ' ').slice(0, 400));
  if (errors.length) { console.log('errors:', errors.join(' | ')); status = 1; }
} finally {
  await browser.close();
  server.close();
}
process.exit(status);
