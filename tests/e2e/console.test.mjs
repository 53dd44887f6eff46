// The web console in a real browser (Debian's chromium driven by playwright-core) against
// the real binary: sign-in with the cookie session, the insights view and its live updates
// (an interaction ingested through the API shows up within 1 s, then its sentiment),
// search with highlighted snippets, a reload that keeps the session, sign-out, and
// server text that is never run as markup.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  CAIRN_BIN, REPO_ROOT, api, cleanEnv, request, startServer, stopAllServers, tempDir, withTimeout,
} from './lib/server.mjs';

const PW = 'quiet-Heron-58-lantern';
let srv;
let browser;
let page;
let owner; // API client with the owner's access token

before(async () => {
  srv = await startServer();
  const t = await api(srv.url).post('/api/v1/tenants', {
    slug: 'console', name: 'Console Ltd', owner_email: 'owner@console.test', owner_password: PW,
  });
  assert.equal(t.status, 201, t.text);
  const login = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'console', email: 'owner@console.test', password: PW },
  });
  assert.equal(login.status, 200, login.text);
  owner = api(srv.url, login.json.access_token);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await (await browser.newContext()).newPage();
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

async function signIn(password = PW) {
  await page.fill('input[name=tenant]', 'console');
  await page.fill('input[name=email]', 'owner@console.test');
  await page.fill('input[name=password]', password);
  await page.click('#signin-form button[type=submit]');
}

function ingest(over = {}) {
  return owner.post('/api/v1/interactions', {
    customer_id: crypto.randomUUID(), timestamp: new Date().toISOString(), channel: 'chat',
    event_type: 'message', content: 'The courier was wonderful and very quick.', ...over,
  });
}

describe('console', () => {
  test('the page is served with a strict content security policy', async () => {
    const r = await request(`${srv.url}/console`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.headers['content-security-policy'], /script-src 'self'/);
    const js = await request(`${srv.url}/console/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /^text\/javascript/);
  });

  test('/console/ (with a slash, as people type it) serves the same page', async () => {
    const slash = await request(`${srv.url}/console/`);
    const plain = await request(`${srv.url}/console`);
    assert.equal(slash.status, 200, slash.text);
    assert.match(slash.headers['content-type'], /^text\/html/);
    assert.match(slash.headers['content-security-policy'], /script-src 'self'/);
    assert.equal(slash.text, plain.text);
  });

  test('a wrong password is refused with the server\'s message; the right one signs in', async () => {
    await page.goto(`${srv.url}/console`);
    await page.waitForSelector('#signin-form', { state: 'visible' });
    await signIn('not-the-password-at-all');
    await page.waitForFunction(() => document.querySelector('#signin-error').textContent !== '');
    assert.match(await page.textContent('#signin-error'), /password|credentials|not valid/i);
    assert.equal(await page.isVisible('#app'), false);

    // what the page's script receives from the sign-in holds no token (they are HttpOnly
    // cookies), and the live connection authenticates with the cookie all the same
    const answer = page.waitForResponse((res) => res.url().endsWith('/api/v1/auth/login'));
    await signIn();
    const body = await (await answer).json();
    assert.equal(body.access_token, undefined);
    assert.equal(body.refresh_token, undefined);
    await page.waitForSelector('#app', { state: 'visible' });
    assert.match(await page.textContent('#who'), /owner@console\.test · console/);
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    const script = await page.evaluate(() => document.cookie);
    assert.ok(!/cairn_at|cairn_rt/.test(script), 'the token cookies are not readable by script');
  });

  test('an interaction ingested through the API appears live (pushed, not fetched), then its sentiment', async () => {
    // The page must show the row from the realtime event: it asks the API for no list
    // meanwhile. (A wall-clock bound would measure the machine's load, not the push.)
    const fetched = [];
    const onRequest = (req) => { if (new URL(req.url()).pathname.startsWith('/api/v1/insights')) fetched.push(req.url()); };
    page.on('request', onRequest);
    const customer = crypto.randomUUID();
    const r = await ingest({ customer_id: customer });
    assert.equal(r.status, 201, r.text);
    const row = `#interactions tbody tr[data-id="${r.json.id}"]`;
    await page.waitForSelector(row, { timeout: 15000 });
    page.off('request', onRequest);
    assert.deepEqual(fetched, [], 'the row came from the live event, not a list fetch');
    assert.match(await page.textContent(row), new RegExp(customer));
    // the integer ms of the answer, shown as a local date and time
    assert.ok(Number.isSafeInteger(r.json.timestamp), r.text);
    assert.equal(await page.textContent(`${row} td:first-child`),
      await page.evaluate((ms) => new Date(ms).toLocaleString(), r.json.timestamp));
    await page.waitForFunction((sel) => document.querySelector(`${sel} .sentiment`).textContent.startsWith('positive'),
      row, { timeout: 15000 });
  });

  test('search shows highlighted snippets', async () => {
    assert.equal((await ingest({ content: 'My parcel came with a zeppelin sticker on it.' })).status, 201);
    await page.fill('#search-form input[name=q]', 'zeppelin');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#hits li mark');
    assert.equal((await page.textContent('#hits li mark')).toLowerCase(), 'zeppelin');
  });

  test('server text is shown as text, never run as markup', async () => {
    const evil = '<img src=x onerror="window.pwned=1">';
    const r = await ingest({ content: evil });
    assert.equal(r.status, 201, r.text);
    await page.reload(); // the loaded list shows content (live rows carry no content)
    const row = `#interactions tbody tr[data-id="${r.json.id}"]`;
    await page.waitForSelector(row);
    assert.equal(await page.textContent(`${row} td.content`), evil);
    assert.equal(await page.locator('#interactions img').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
  });

  test('a reload keeps the session; sign-out ends it', async () => {
    await page.reload();
    await page.waitForSelector('#app', { state: 'visible' });
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    await page.click('#signout');
    await page.waitForSelector('#signin', { state: 'visible' });
    await page.reload();
    await page.waitForSelector('#signin', { state: 'visible' });
    assert.equal(await page.isVisible('#app'), false);
  });
});

describe('make run', () => {
  test('scripts/run and the serve banner print the console URL, which serves the console', async () => {
    const data = path.join(tempDir(), 'data');
    const p = spawn('bash', [path.join(REPO_ROOT, 'scripts/run'), '--listen', '127.0.0.1:0', '--data', data], {
      env: cleanEnv({ CAIRN_BIN, CAIRN_THREADS: '2' }), stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    try {
      const url = await withTimeout(new Promise((resolve, reject) => {
        p.stderr.on('data', (d) => {
          err += d;
          const m = /^console: (http:\/\/127\.0\.0\.1:\d+\/console)$/m.exec(err);
          if (m) resolve(m[1]);
        });
        p.on('exit', (code) => reject(new Error(`scripts/run exited ${code}:\n${err}`)));
      }), 30_000, 'the console URL on stderr');
      assert.match(err, /Console: http:\/\/127\.0\.0\.1:0\/console/, 'the run banner names the console');
      const page = await request(url);
      assert.equal(page.status, 200);
      assert.match(page.text, /<script type="module" src="\/console\/app\.js">/);
    } finally {
      p.kill('SIGTERM');
      await new Promise((resolve) => (p.exitCode !== null ? resolve() : p.on('exit', resolve)));
    }
  });
});
