// Open a trace-event file in the DevTools Performance panel in headless
// Chromium and screenshot it: node devtools.mjs TRACE.json OUT.png [FRONTEND]
// FRONTEND: a URL of a DevTools front end's trace_app.html (default: the
// one built into Chromium, devtools://devtools/bundled/trace_app.html); it
// loads the trace from ?loadTimelineFromURL=, served by a small HTTP server.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [trace, out, frontend] = process.argv.slice(2);
if (!trace || !out) {
  console.error('usage: node devtools.mjs TRACE.json OUT.png [FRONTEND_URL]');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  fs.readFile(path.resolve(trace), (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    res.end(data);
  });
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/trace.json`;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
  defaultViewport: { width: 1600, height: 900 },
});
let status = 0;
try {
  const errors = [];
  const base = frontend || 'devtools://devtools/bundled/inspector.html';
  const target = `${base}?loadTimelineFromURL=${encodeURIComponent(url)}`;
  // page.goto refuses devtools:// URLs; the browser opens them as a target
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Target.createTarget', { url: target });
  const t = await browser.waitForTarget(t => t.url().startsWith(base), { timeout: 30000 });
  const page = await t.asPage();
  await page.setViewport({ width: 1600, height: 900 });
  page.on('pageerror', e => errors.push(String(e)));
  await new Promise(r => setTimeout(r, Number(process.env.WAIT_MS || 8000)));
  await page.screenshot({ path: out });
  if (errors.length) { console.log('page errors:', errors.slice(0, 5).join(' | ')); }
} catch (e) {
  console.log('failed:', String(e));
  status = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(status);
