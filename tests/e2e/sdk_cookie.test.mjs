// @cairn/sdk in cookie mode (browser sessions, docs/auth.md) against the real binary: the
// sign-in sets the cookies and answers no token, unsafe methods carry the session's CSRF
// token, a stale access cookie is refreshed from the refresh cookie (single-flight),
// session() reads the session, logout/logoutAll end it, a session ended under a request
// asks reauthenticate and retries, MFA and realtime work by the cookies.
//
// Node's fetch keeps no cookies: the client gets a fetch that keeps a jar the way a browser
// does (Path, Max-Age), and reads the CSRF token from it as a page reads document.cookie.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { CairnClient, CairnError, cookieValue } from '../../sdk/js/index.js';
import { TOKEN, startServer, stopAllServers, waitFor } from './lib/server.mjs';
import { base32Decode, totp } from './lib/totp.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;

before(async () => {
  srv = await startServer();
  const op = new CairnClient({ baseUrl: srv.url, token: TOKEN });
  for (const slug of ['ca', 'cb']) {
    await op.post('/api/v1/tenants', { slug, name: slug.toUpperCase(), owner_email: `owner@${slug}.test`, owner_password: PW });
  }
});

/** A browser-like cookie jar: Set-Cookie with Path and Max-Age, Cookie by path. */
function cookieJar() {
  const cookies = new Map(); // name -> {value, path}
  const jar = {
    cookies,
    header(url) {
      const p = new URL(url).pathname;
      return [...cookies].filter(([, c]) => p.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`).join('; ');
    },
    store(res) {
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(/;\s*/);
        const i = pair.indexOf('=');
        const name = pair.slice(0, i);
        const attr = (k) => attrs.find((a) => a.toLowerCase().startsWith(`${k}=`))?.split('=')[1];
        if (Number(attr('max-age')) <= 0) cookies.delete(name);
        else cookies.set(name, { value: pair.slice(i + 1), path: attr('path') ?? '/' });
      }
    },
    calls: [],
    fetch: async (url, init = {}) => {
      const headers = { ...init.headers };
      const cookie = jar.header(url);
      if (cookie) headers.cookie = cookie;
      jar.calls.push({ method: init.method ?? 'GET', path: new URL(url).pathname, csrf: headers['x-csrf-token'] ?? null,
        credentials: init.credentials });
      const res = await fetch(url, { ...init, headers });
      jar.store(res);
      return res;
    },
    csrf: () => cookieValue(jar.header(`${srv.url}/`), 'cairn_csrf'),
  };
  return jar;
}

function browserClient(opts = {}) {
  const jar = cookieJar();
  const client = new CairnClient({ baseUrl: srv.url, cookie: true, fetch: jar.fetch, csrfToken: jar.csrf, ...opts });
  return { jar, client };
}

const signIn = (client, slug = 'ca') => client.login({ tenant: slug, email: `owner@${slug}.test`, password: PW });

test('sign-in sets the cookies, answers no token; unsafe methods send the CSRF token; session() reads it', async () => {
  const seen = [];
  const { jar, client } = browserClient({ onSession: (v) => seen.push(v) });
  assert.equal(client.signedIn, null);
  assert.equal(await client.session(), null, 'no cookies: no session');
  assert.equal(client.signedIn, false);

  const r = await signIn(client);
  assert.deepEqual(r, { mfaRequired: false, tokens: null });
  assert.equal(client.tokens, null, 'no script-visible token');
  assert.deepEqual([...jar.cookies.keys()].sort(), ['cairn_at', 'cairn_csrf', 'cairn_rt']);
  assert.equal(client.signedIn, true);
  assert.deepEqual(seen, [false, true]);
  assert.equal(jar.calls.find((c) => c.path === '/api/v1/auth/login').credentials, 'same-origin');

  const s = await client.session();
  assert.equal(s.role, 'owner');
  assert.equal(s.mfa, false);

  const note = await client.notes.create({ title: 'by cookie', body: 'x' });
  assert.ok(note.id);
  const post = jar.calls.findLast((c) => c.method === 'POST' && c.path === '/api/v1/notes');
  assert.equal(post.csrf, jar.csrf(), 'the unsafe request carried the session CSRF token');
  assert.equal(jar.calls.findLast((c) => c.path === '/api/v1/auth/session').csrf, null, 'a GET sends none');

  // without the CSRF token the server refuses an unsafe method (and the client does not retry it away)
  const bare = new CairnClient({ baseUrl: srv.url, cookie: true, fetch: jar.fetch, csrfToken: () => null });
  await assert.rejects(bare.notes.create({ title: 'no csrf', body: 'x' }), (e) => e instanceof CairnError && e.status === 403);
});

test('a stale access cookie is refreshed from the refresh cookie, once for concurrent requests', async () => {
  const { jar, client } = browserClient();
  await signIn(client);
  const rtBefore = jar.cookies.get('cairn_rt').value;
  jar.cookies.delete('cairn_at'); // what a browser does when its Max-Age (the token's life) is over
  jar.calls.length = 0;
  const lists = await Promise.all([client.notes.list(), client.notes.list(), client.get('/api/v1/users/me')]);
  assert.equal(lists[2].email, 'owner@ca.test');
  const refreshes = jar.calls.filter((c) => c.path === '/api/v1/auth/refresh');
  assert.equal(refreshes.length, 1, 'one refresh for three requests');
  assert.equal(refreshes[0].csrf, jar.csrf(), 'the refresh is an unsafe method: it carries the CSRF token');
  assert.ok(jar.cookies.get('cairn_at'), 'a new access cookie');
  assert.notEqual(jar.cookies.get('cairn_rt').value, rtBefore, 'the refresh token rotated');
  assert.equal(client.signedIn, true);
});

test('logout clears the cookies; logoutAll ends the other sessions too', async () => {
  const a = browserClient();
  const b = browserClient();
  await signIn(a.client);
  await signIn(b.client);
  await a.client.logout();
  assert.equal(a.jar.cookies.size, 0, 'logout clears all three cookies');
  assert.equal(a.client.signedIn, false);
  assert.equal(await a.client.session(), null);

  const c = browserClient();
  await signIn(c.client);
  await c.client.logoutAll();
  assert.equal(c.client.signedIn, false);
  assert.equal(await b.client.session(), null, "logout-all ended the other browser's session");
  assert.equal(b.client.signedIn, false);
});

test('a session ended under a request asks reauthenticate once, then the requests are retried', async () => {
  let asked = 0;
  let other;
  const { client } = browserClient({
    reauthenticate: async () => {
      asked++;
      await signIn(client); // the user signs in again in the dialog
      return true;
    },
  });
  await signIn(client);
  other = browserClient();
  await signIn(other.client);
  await other.client.logoutAll(); // ends this client's session too, elsewhere
  const [list, me] = await Promise.all([client.notes.list(), client.get('/api/v1/users/me')]);
  assert.ok(Array.isArray(list.items));
  assert.equal(me.email, 'owner@ca.test');
  assert.equal(asked, 1, 'one prompt for both requests');

  // a prompt answered false lets the request fail with its 401
  const refusing = browserClient({ reauthenticate: async () => false });
  await signIn(refusing.client);
  await refusing.client.logout();
  await assert.rejects(refusing.client.notes.list(), (e) => e instanceof CairnError && e.status === 401);
});

test('MFA in cookie mode: the challenge, then the code sets the cookies; a recovery code works too', async () => {
  const setup = browserClient();
  await signIn(setup.client, 'cb');
  const enrol = await setup.client.post('/api/v1/auth/mfa/enroll');
  const secret = base32Decode(enrol.secret);
  const conf = await setup.client.post('/api/v1/auth/mfa/confirm', { code: totp(secret, Date.now() - 30_000) });

  const { jar, client } = browserClient();
  const step = await signIn(client, 'cb');
  assert.equal(step.mfaRequired, true);
  assert.equal(jar.cookies.size, 0, 'no cookie before the second factor');
  await client.verifyMfa({ challenge: step.challenge, code: totp(secret) });
  assert.equal(client.signedIn, true);
  assert.equal((await client.session()).mfa, true);

  const r = browserClient();
  const step2 = await signIn(r.client, 'cb');
  await r.client.verifyMfa({ challenge: step2.challenge, recoveryCode: conf.recovery_codes[0] });
  assert.equal((await r.client.session()).mfa, true);
});

test('realtime authenticates by the cookie upgrade (no auth message) and delivers events', async () => {
  const { jar, client } = browserClient();
  await signIn(client);
  const sent = [];
  // a browser sends the cookies and its Origin on the upgrade by itself
  class BrowserSocket extends WebSocket {
    constructor(url) {
      super(url, { headers: { cookie: jar.header(url.replace(/^ws/, 'http')), origin: srv.url } });
      const send = this.send.bind(this);
      this.send = (m) => { sent.push(JSON.parse(m)); send(m); };
    }
  }
  const rt = client.realtime({ WebSocket: BrowserSocket });
  const events = [];
  let subscribed = false;
  rt.on('subscribed', (m) => { if (m.channel === 'notes') subscribed = true; });
  rt.subscribe('notes', (ev) => events.push(ev));
  await waitFor(() => subscribed, 5000, 'the subscription to be confirmed');
  assert.equal(rt.state, 'open');
  await client.notes.create({ title: 'live', body: 'x' });
  await waitFor(() => events.length > 0, 5000, 'the note.created event');
  assert.equal(events[0].type, 'note.created');
  assert.ok(!sent.some((m) => m.op === 'auth'), 'no token ever sent by the page');
  rt.close();
});

/** A Web Locks stand-in: one holder of a name at a time, the rest in order. */
function locksManager() {
  const tails = new Map();
  return {
    request(name, fn) {
      const prev = tails.get(name) ?? Promise.resolve();
      const run = prev.then(() => fn());
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
}

test('two tabs sharing the cookies refresh in turn: one refresh, and the session survives', async () => {
  const jar = cookieJar();
  const locks = locksManager(); // what navigator.locks is to the tabs of one origin
  const tab = () => new CairnClient({ baseUrl: srv.url, cookie: true, fetch: jar.fetch, csrfToken: jar.csrf, locks });
  const [a, b] = [tab(), tab()];
  await signIn(a);
  jar.cookies.delete('cairn_at'); // the access cookie's Max-Age is over, for both tabs
  jar.calls.length = 0;
  const [la, lb] = await Promise.all([a.notes.list(), b.notes.list()]);
  assert.ok(Array.isArray(la.items) && Array.isArray(lb.items));
  assert.equal(jar.calls.filter((c) => c.path === '/api/v1/auth/refresh').length, 1,
    'the second tab found the session refreshed by the first');
  assert.ok(await a.session(), 'the session was not revoked as a reuse');
  assert.ok(await b.session());
});
