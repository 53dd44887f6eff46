// The console's Content-Security-Policy in the browser that enforces it (Debian's chromium,
// headless, through playwright-core) against the real binary: the page served for a deep
// link boots under it with no violation, a WebSocket to the server's own origin (the
// realtime hub) and a fetch of its API are allowed by connect-src 'self', while eval and a
// WebSocket to another origin are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, stopAllServers } from '../e2e/lib/server.mjs';

let srv;
let browser;

before(async () => {
  srv = await startServer();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

test('the CSP lets the page reach its own origin (HTTP and WebSocket) and nothing else', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = [];
  // reported by the page itself, so nothing that happens before a listener is missed
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) violations.push(m.text()); });
  const res = await page.goto(`${srv.url}/console/insights/customers/123`);
  assert.equal(res.status(), 200);
  await page.waitForSelector('#root > *', { timeout: 15_000 }); // the app rendered
  assert.deepEqual(await page.evaluate(() => window.__violations), [], 'the page boots clean');
  assert.deepEqual(violations, []);

  const out = await page.evaluate(async () => {
    const ws = (url) => new Promise((resolve) => {
      const w = new WebSocket(url);
      w.onopen = () => { w.close(); resolve('open'); };
      w.onerror = () => resolve('error');
    });
    const own = await ws(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/realtime`);
    const api = await fetch('/healthz').then((r) => r.status, (e) => String(e));
    let evalRefused = false;
    try { (0, eval)('1'); } catch { evalRefused = true; }
    const foreign = await ws('ws://127.0.0.2:9/elsewhere');
    return { own, api, evalRefused, foreign, violations: window.__violations };
  });
  assert.equal(out.own, 'open', 'same-origin WebSocket allowed by connect-src \'self\'');
  assert.equal(out.api, 200);
  assert.equal(out.evalRefused, true);
  assert.equal(out.foreign, 'error');
  assert.deepEqual(out.violations.map((v) => v.split(' ')[0]).sort(), ['connect-src', 'script-src']);
  await context.close();
});
