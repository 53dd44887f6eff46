// @cairn/sdk against the real binary: sign-in (with the MFA step), automatic refresh of an
// expired access token (single-flight, rotating refresh tokens kept), sign-out, CairnError
// from problem+json answers, cursor pagination, API keys, and the realtime client
// (ordered delivery, resume after a dropped connection, resync_required, 4401 refresh).
//
// These tests share servers with the default access-token lifetime (15 min; auth.access_ttl_s
// shortens it, see cookies.test.mjs), so an expired token is made by hand: the session's own claims with an `exp` in the past, signed with the
// server's key read from the database (as tests/e2e/auth.test.mjs does).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CairnClient, CairnError } from '../../sdk/js/index.js';
import { TOKEN, UUID_RE, dbQuery, sleep, startServer, stopAllServers, waitFor, withTimeout } from './lib/server.mjs';
import { unsealSigningKey } from './lib/vault.mjs';
import { base32Decode, totp } from './lib/totp.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
const PW2 = 'gentle-Lynx-64-orchard';

/** Wraps fetch to record "METHOD /path" of every request a client makes. */
function recordingFetch() {
  const calls = [];
  const f = (url, init) => {
    calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(url, init);
  };
  f.calls = calls;
  return f;
}

const operator = (srv) => new CairnClient({ baseUrl: srv.url, token: TOKEN });

/** A new tenant with an owner (through the operator's token); resolves to the owner's signed-in client. */
async function ownerOf(srv, slug, opts = {}) {
  const email = `owner@${slug}.test`;
  await operator(srv).post('/api/v1/tenants', { slug, name: slug.toUpperCase(), owner_email: email, owner_password: PW });
  const c = new CairnClient({ baseUrl: srv.url, ...opts });
  const r = await c.login({ tenant: slug, email, password: PW });
  assert.equal(r.mfaRequired, false);
  c.credentials = { tenant: slug, email, password: PW };
  return c;
}

async function signingKey(srv) {
  const [{ kid, secret: sealed }] = await dbQuery(srv, // sealed by the server's vault
    'SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid DESC LIMIT 1');
  return { kid, secret: unsealSigningKey(path.join(srv.dataDir, 'secrets.key'), kid, sealed) };
}

/** A copy of accessToken with exp in the past, validly signed: the server answers 401 "expired". */
async function expiredCopy(srv, accessToken) {
  const { kid, secret } = await signingKey(srv);
  const seg = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8'));
  const now = Math.floor(Date.now() / 1000);
  const h = seg({ alg: 'HS256', kid, typ: 'JWT' });
  const p = seg({ ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 60 });
  const sig = crypto.createHmac('sha256', Buffer.from(secret, 'hex')).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

/** Runs fn over items with at most n in flight; resolves to the results in item order. */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

// One server for most tests; realtime tests that need other settings start their own.
// (Every top-level await comes before the first test is declared: the runner may finish
// the file once the tests declared so far are done.)
const srv = await startServer();
const owner = await ownerOf(srv, 'sdk');

// The realtime tests are skipped only while the hub's route does not exist on this binary.
const hubRoute = await fetch(`${srv.url}/api/v1/realtime`, { headers: { authorization: `Bearer ${TOKEN}` } });
await hubRoute.arrayBuffer();
const NO_HUB = hubRoute.status === 404 ? 'GET /api/v1/realtime answers 404: the realtime hub is not in this binary' : false;

describe('auth', () => {
  test('login stores the tokens, reports them, and signs requests', async () => {
    const seen = [];
    const c = new CairnClient({ baseUrl: `${srv.url}/`, onTokens: (t) => seen.push(t) });
    assert.equal(c.tokens, null);
    const r = await c.login(owner.credentials);
    assert.equal(r.mfaRequired, false);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0], c.tokens);
    assert.match(c.tokens.accessToken, /^eyJ/);
    assert.ok(c.tokens.refreshToken);
    assert.ok(Math.abs(c.tokens.expiresAt - (Date.now() + 900_000)) < 10_000);
    const me = await c.get('/api/v1/users/me');
    assert.equal(me.email, 'owner@sdk.test');
    assert.equal(me.role, 'owner');
    assert.equal(me.tenant.slug, 'sdk');

    const bad = await c.login({ ...owner.credentials, password: 'not-the-password-1' }).catch((e) => e);
    assert.ok(bad instanceof CairnError);
    assert.equal(bad.status, 401);
    assert.equal(bad.type, 'urn:cairn:problem:unauthorized');
    assert.equal(c.tokens.refreshToken, seen[0].refreshToken, 'a failed sign-in keeps the session');
  });

  test('an expired access token: one refresh for concurrent requests, each retried once', async () => {
    const f = recordingFetch();
    const signedIn = new CairnClient({ baseUrl: srv.url });
    await signedIn.login(owner.credentials);
    const seen = [];
    const c = new CairnClient({
      baseUrl: srv.url, fetch: f, onTokens: (t) => seen.push(t),
      token: await expiredCopy(srv, signedIn.tokens.accessToken), refreshToken: signedIn.tokens.refreshToken,
      expiresAt: Date.now() + 3_600_000, // the client's clock believes it valid: the server's 401 decides
    });
    const notes = await Promise.all(Array.from({ length: 6 }, () => c.notes.list({ limit: 1 })));
    for (const n of notes) assert.ok(Array.isArray(n.items));
    assert.equal(f.calls.filter((x) => x === 'POST /api/v1/auth/refresh').length, 1, f.calls.join('\n'));
    assert.equal(f.calls.filter((x) => x === 'GET /api/v1/notes').length, 12, '6 refused, 6 retried');
    assert.equal(seen.length, 1);
    assert.notEqual(c.tokens.refreshToken, signedIn.tokens.refreshToken, 'the refresh token rotated');

    // the newest refresh token was kept: refreshing again works (presenting the old one
    // again would have revoked the session), and so does the session afterwards
    await c.refresh();
    assert.equal(seen.length, 2);
    assert.equal((await c.get('/api/v1/users/me')).email, 'owner@sdk.test');
    assert.equal(f.calls.filter((x) => x === 'POST /api/v1/auth/refresh').length, 2);
  });

  test('a token about to expire is refreshed before the request is sent', async () => {
    const f = recordingFetch();
    let skew = 0;
    const c = new CairnClient({ baseUrl: srv.url, fetch: f, now: () => Date.now() + skew });
    await c.login(owner.credentials);
    const first = c.tokens;
    skew = 890_000; // 10 s before expiry, within the 30 s margin
    await c.get('/api/v1/users/me');
    assert.deepEqual(f.calls, ['POST /api/v1/auth/login', 'POST /api/v1/auth/refresh', 'GET /api/v1/users/me']);
    assert.notEqual(c.tokens.refreshToken, first.refreshToken, 'refreshed (the access token may be equal within a second)');
    await c.get('/api/v1/users/me');
    assert.equal(f.calls.length, 4, 'no second refresh');
  });

  test('logout ends the session on the server and clears the tokens', async () => {
    const seen = [];
    const c = new CairnClient({ baseUrl: srv.url, onTokens: (t) => seen.push(t) });
    await c.login(owner.credentials);
    const { accessToken, refreshToken } = c.tokens;
    await c.logout();
    assert.equal(c.tokens, null);
    assert.equal(seen.at(-1), null);
    const f = recordingFetch();
    const stale = new CairnClient({ baseUrl: srv.url, token: accessToken, refreshToken, fetch: f });
    const e = await stale.get('/api/v1/users/me').catch((x) => x);
    assert.equal(e.status, 401);
    assert.equal(e.detail, 'the session has been signed out');
    assert.equal(e.slug, 'token-revoked');
    assert.deepEqual(f.calls, ['GET /api/v1/users/me'], 'no refresh for an ended session');
    assert.equal(stale.tokens, null, 'an ended session signs the client out');
    const kept = new CairnClient({ baseUrl: srv.url, token: accessToken, refreshToken });
    await assert.rejects(kept.refresh(), (x) => x instanceof CairnError && x.status === 401 &&
      x.detail === 'the session has ended; sign in again');
    assert.equal(kept.tokens, null, 'a refused refresh signs the client out');
  });

  test('login with MFA: the challenge, then the code (given as a function)', async () => {
    const email = 'mfa@sdk.test';
    await owner.post('/api/v1/users', { email, role: 'member', password: PW2 });
    const c = new CairnClient({ baseUrl: srv.url });
    await c.login({ tenant: 'sdk', email, password: PW2 });
    const { secret } = await c.post('/api/v1/auth/mfa/enroll');
    const key = base32Decode(secret);
    await c.post('/api/v1/auth/mfa/confirm', { code: totp(key, Date.now() - 30_000) });

    const d = new CairnClient({ baseUrl: srv.url });
    const step = await d.login({ tenant: 'sdk', email, password: PW2 });
    assert.equal(step.mfaRequired, true);
    assert.equal(typeof step.challenge, 'string');
    assert.equal(d.tokens, null);
    let asked = 0;
    const done = await d.login({ tenant: 'sdk', email, password: PW2, totp: () => { asked++; return totp(key); } });
    assert.equal(done.mfaRequired, false);
    assert.equal(asked, 1);
    assert.equal((await d.get('/api/v1/users/me')).email, email);
  });
});

describe('several tenants', () => {
  test('tenants() lists the memberships; switchTenant() moves the session, or asks for the second factor', async () => {
    const a = await ownerOf(srv, 'sw-a');
    const email = a.credentials.email;
    await operator(srv).post('/api/v1/tenants', { slug: 'sw-b', name: 'SW-B', owner_email: email });
    await operator(srv).post('/api/v1/tenants', { slug: 'sw-c', name: 'SW-C', owner_email: email, mfa_required_for_admins: true });
    const list = await a.tenants();
    assert.deepEqual(list.map((t) => [t.slug, t.current]), [['sw-a', true], ['sw-b', false], ['sw-c', false]]);

    const before = a.tokens;
    const moved = await a.switchTenant({ tenant: 'sw-b' });
    assert.equal(moved.mfaRequired, false);
    assert.notEqual(a.tokens.refreshToken, before.refreshToken, 'the answer\'s new tokens are kept');
    assert.equal((await a.get('/api/v1/users/me')).tenant.slug, 'sw-b');
    await assert.rejects(a.switchTenant({ tenant: 'sw-nowhere' }), (e) => e instanceof CairnError && e.status === 404);

    // sw-c asks owners for a second factor: with MFA enrolled the switch ends the session
    const enrol = await a.post('/api/v1/auth/mfa/enroll');
    const key = base32Decode(enrol.secret);
    await a.post('/api/v1/auth/mfa/confirm', { code: totp(key, Date.now() - 30_000) });
    const step = await a.switchTenant({ tenant: 'sw-c' });
    assert.equal(step.mfaRequired, true);
    assert.equal(a.tokens, null, 'the session ended');
    await a.verifyMfa({ challenge: step.challenge, code: totp(key) });
    assert.equal((await a.get('/api/v1/users/me')).tenant.slug, 'sw-c');
  });
});

describe('errors', () => {
  test('422: CairnError carries the problem fields and errors[]', async () => {
    const e = await owner.notes.create({ title: '', colour: 'red' }, { headers: { 'x-request-id': 'sdk-e2e-422' } }).catch((x) => x);
    assert.ok(e instanceof CairnError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'CairnError');
    assert.equal(e.status, 422);
    assert.equal(e.type, 'urn:cairn:problem:validation-failed');
    assert.equal(e.title, 'Unprocessable Content');
    assert.equal(e.detail, 'the request body has invalid fields');
    assert.equal(e.message, e.detail);
    assert.equal(e.request_id, 'sdk-e2e-422');
    assert.deepEqual(e.errors.map((x) => x.field).sort(), ['colour', 'title']);
    for (const x of e.errors) assert.equal(typeof x.message, 'string');
    assert.equal(e.problem.status, 422);
  });

  test('404: another id, and an unknown path', async () => {
    const e = await owner.notes.get(crypto.randomUUID()).catch((x) => x);
    assert.ok(e instanceof CairnError);
    assert.equal(e.status, 404);
    assert.equal(e.type, 'urn:cairn:problem:not-found');
    assert.match(e.request_id, /\S/);
    assert.deepEqual(e.errors, []);
    const u = await owner.get('/api/v1/no-such-thing').catch((x) => x);
    assert.equal(u.status, 404);
  });

  test('a network failure is a CairnError with status 0', async () => {
    const dead = await startServer();
    const url = dead.url;
    await dead.stop();
    const e = await new CairnClient({ baseUrl: url, token: TOKEN }).get('/api/v1/notes').catch((x) => x);
    assert.ok(e instanceof CairnError);
    assert.equal(e.status, 0);
    assert.equal(e.type, 'urn:cairn:sdk:network-error');
  });
});

describe('notes and pagination', () => {
  test('typed notes helpers: create, get, list, update, delete', async () => {
    const n = await owner.notes.create({ title: 'SDK', body: 'made by the SDK ☕' });
    assert.match(n.id, UUID_RE);
    assert.deepEqual(await owner.notes.get(n.id), n);
    const u = await owner.notes.update(n.id, { title: 'SDK 2' });
    assert.equal(u.title, 'SDK 2');
    assert.equal(u.body, n.body);
    const page = await owner.notes.list({ limit: 1 });
    assert.equal(page.items[0].id, n.id);
    assert.equal(await owner.notes.delete(n.id), undefined);
    assert.equal((await owner.notes.get(n.id).catch((e) => e)).status, 404);
  });

  test('paginate() follows next_cursor over 120 notes', async () => {
    const f = recordingFetch();
    const c = await ownerOf(srv, 'pages', { fetch: f });
    const made = await pool(Array.from({ length: 120 }, (_, i) => i), 8, (i) => c.notes.create({ title: `n${i}` }));
    f.calls.length = 0;
    const seen = [];
    for await (const n of c.paginate('/api/v1/notes', { limit: 50 })) seen.push(n);
    assert.equal(seen.length, 120);
    assert.equal(new Set(seen.map((n) => n.id)).size, 120, 'no duplicates');
    assert.deepEqual(new Set(seen.map((n) => n.id)), new Set(made.map((n) => n.id)));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].id > seen[i].id, 'newest first');
    assert.equal(f.calls.length, 3, '50 + 50 + 20');
    // the notes helper, default page size
    let count = 0;
    for await (const n of c.notes.all()) count += n.title.startsWith('n') ? 1 : 0;
    assert.equal(count, 120);
  });
});

describe('insights helpers', () => {
  test('ingest, batch, CSV import, list, search and the insights channel through the SDK', async () => {
    const c = await ownerOf(srv, 'sdk-insights');
    const customer = crypto.randomUUID();
    const rt = c.realtime();
    const created = [];
    try {
      const subscribed = next(rt, 'subscribed', (m) => m.channel === 'insights');
      rt.subscribe('insights', (e) => { if (e.type === 'interaction.created') created.push(...e.data.items); });
      await subscribed;
      const at = new Date(Date.now() - 60_000).toISOString();
      const one = await c.insights.ingest({ customer_id: customer, timestamp: at, channel: 'chat', event_type: 'message', content: 'sdk loves pelicans' });
      assert.match(one.id, UUID_RE);
      // a time may be sent as integer ms too (as every answer gives it)
      const batch = await c.insights.ingestBatch([
        { customer_id: customer, timestamp: Date.parse(at), channel: 'web', event_type: 'page_view' },
        { customer_id: 'nope', timestamp: at, channel: 'web', event_type: 'x' },
      ]);
      assert.equal(batch.created, 1);
      assert.equal(batch.results[1].errors[0].field, 'items[1].customer_id');
      const imp = await c.insights.importCsv(`customer_id,timestamp,channel,event_type,content\r\n${customer},${at},email,mail,"pelicans, again"\r\n`);
      assert.match(imp.job_id, UUID_RE);
      await waitFor(async () => (await c.insights.list({ customer_id: customer })).items.length === 3, 10_000, 'the import');
      const seen = [];
      for await (const i of c.insights.all({ customer_id: customer, limit: 1 })) seen.push(i.channel);
      assert.deepEqual(seen.sort(), ['chat', 'email', 'web']);
      const listed = (await c.insights.list({ customer_id: customer, from: Date.parse(at), to: Date.parse(at) + 1 })).items;
      assert.equal(listed.length, 3, 'integer ms filters');
      assert.ok(listed.every((i) => i.timestamp === Date.parse(at) && Number.isSafeInteger(i.created_at)));
      const hits = await c.insights.search('pelicans');
      assert.equal(hits.items.length, 2);
      await waitFor(() => created.length === 3, 5000, 'three interaction.created items');
      assert.ok(created.every((x) => x.customer_id === customer && x.timestamp === Date.parse(at)));
      const bad = await c.insights.list({ channels: 'fax' }).catch((e) => e);
      assert.ok(bad instanceof CairnError);
      assert.equal(bad.errors[0].field, 'channels');
      assert.equal((await c.insights.sentiment('great!')).label, 'positive');
    } finally {
      rt.close();
    }
  });
});

describe('API keys', () => {
  test('a key acts with exactly its permissions; a revoked key is refused without a refresh', async () => {
    const made = await owner.post('/api/v1/api-keys', { name: 'sdk-ci', permissions: ['notes.read'] });
    assert.match(made.key, /^cairn_/);
    const f = recordingFetch();
    const k = new CairnClient({ baseUrl: srv.url, apiKey: made.key, fetch: f });
    const list = await k.notes.list({ limit: 5 });
    assert.ok(Array.isArray(list.items));
    const denied = await k.notes.create({ title: 'nope' }).catch((e) => e);
    assert.equal(denied.status, 403);
    assert.equal(denied.type, 'urn:cairn:problem:forbidden');
    await owner.delete(`/api/v1/api-keys/${made.id}`);
    const gone = await k.notes.list().catch((e) => e);
    assert.equal(gone.status, 401);
    assert.equal(gone.type, 'urn:cairn:problem:token-invalid');
    assert.equal(gone.slug, 'token-invalid');
    assert.ok(!f.calls.some((x) => x.includes('/auth/')), 'no sign-in or refresh with a key');
  });
});

// ---- realtime ----

/** Drops a connection without a closing handshake (ws), or closes it (a standard WebSocket). */
const drop = (socket) => (typeof socket?.terminate === 'function' ? socket.terminate() : socket?.close());

/** Resolves with the argument of the next `event` of rt matching pred. */
function next(rt, event, pred = () => true, ms = 10_000) {
  return withTimeout(new Promise((resolve) => {
    const off = rt.on(event, (x) => { if (pred(x)) { off(); resolve(x); } });
  }), ms, `realtime ${event}`);
}

describe('realtime', { skip: NO_HUB }, () => {
  test('subscribe to notes: note.created events arrive in order', async () => {
    const c = await ownerOf(srv, 'rt-order');
    const rt = c.realtime();
    try {
      const got = [];
      const subscribed = next(rt, 'subscribed', (m) => m.channel === 'notes');
      const opened = next(rt, 'open');
      rt.subscribe('notes', (ev) => got.push(ev));
      assert.equal((await opened).op, 'ready');
      const sub = await subscribed;
      assert.equal(rt.state, 'open');
      const made = [];
      for (let i = 0; i < 20; i++) made.push(await c.notes.create({ title: `live ${i}` }));
      await waitFor(() => got.length >= 20, 10_000, '20 events');
      await sleep(100);
      assert.equal(got.length, 20);
      got.forEach((ev, i) => {
        assert.equal(ev.channel, 'notes');
        assert.equal(ev.type, 'note.created');
        assert.equal(ev.seq, sub.seq + 1 + i);
        assert.equal(ev.epoch, got[0].epoch);
        assert.equal(ev.data.id, made[i].id);
      });
      assert.match(got[0].epoch, /\S/);
      if (sub.epoch) assert.equal(sub.epoch, got[0].epoch); // a channel without events yet has none
      assert.deepEqual(rt.position('notes'), { seq: sub.seq + 20, epoch: got[0].epoch });
    } finally {
      rt.close();
    }
  });

  test('a dropped connection while 500 notes are created: all 500 arrive, in order, once', async () => {
    const s = await startServer({ env: { CAIRN_REALTIME_HISTORY_COUNT: '2000' } });
    const c = await ownerOf(s, 'rt-resume');
    // a fixed, noticeable back-off so events really are missed while disconnected
    const rt = c.realtime({ backoff: { baseMs: 300, capMs: 300 }, random: () => 0.99 });
    try {
      const got = [];
      const subs = [];
      rt.on('subscribed', (m) => subs.push({ seq: m.seq, delivered: got.length }));
      let opens = 0;
      rt.on('open', () => opens++);
      const first = next(rt, 'subscribed');
      rt.subscribe('notes', (ev) => got.push(ev));
      await first;

      let created = 0;
      const made = await pool(Array.from({ length: 500 }, (_, i) => i), 8, async (i) => {
        const n = await c.notes.create({ title: `burst ${i}` });
        if (++created === 100 || created === 350) drop(rt.socket);
        return n;
      });
      await waitFor(() => got.length >= 500, 30_000, `500 events (have ${got.length})`);
      await sleep(200);
      assert.equal(got.length, 500, 'no duplicates delivered');
      const base = subs[0].seq;
      got.forEach((ev, i) => assert.equal(ev.seq, base + 1 + i, `event ${i} in order`));
      assert.deepEqual(new Set(got.map((e) => e.data.id)), new Set(made.map((n) => n.id)));
      assert.ok(opens >= 2, `reconnected (${opens} connections)`);
      assert.ok(subs.slice(1).some((x) => x.seq > base + x.delivered),
        `a resubscription replayed missed events: ${JSON.stringify(subs)}`);
    } finally {
      rt.close();
    }
  });

  test('since older than the history: resync_required, reload over REST, continue from the new seq', async () => {
    // the hub keeps at least history_count events and prunes in steps, so 100 events
    // with a history of 10 leave the first ones out of reach
    const s = await startServer({ env: { CAIRN_REALTIME_HISTORY_COUNT: '10' } });
    const c = await ownerOf(s, 'rt-resync');
    await pool(Array.from({ length: 100 }, (_, i) => i), 4, (i) => c.notes.create({ title: `old ${i}` }));
    const rt = c.realtime();
    try {
      const got = [];
      const subs = [];
      rt.on('subscribed', (m) => subs.push(m));
      let reloaded = null;
      const resync = next(rt, 'resync_required');
      rt.on('resync_required', async () => { reloaded = (await c.notes.list({ limit: 200 })).items.length; });
      rt.subscribe('notes', (ev) => got.push(ev), { since: 1 });
      const r = await resync;
      assert.equal(r.channel, 'notes');
      assert.equal(r.seq, 100);
      assert.match(r.epoch, /\S/);
      await waitFor(() => reloaded !== null, 5000, 'the REST reload');
      assert.equal(reloaded, 100);
      // the client subscribes again from the new seq (the server may also simply go on live)
      await waitFor(() => subs.length >= 2, 5000, 'the subscription from the new seq');
      assert.equal(subs.at(-1).seq, 100);
      const n = await c.notes.create({ title: 'after the resync' });
      await waitFor(() => got.length >= 1, 5000, 'the next event');
      await sleep(100);
      assert.equal(got.length, 1, 'nothing from before the resync');
      assert.equal(got[0].seq, 101);
      assert.equal(got[0].data.id, n.id);
      assert.deepEqual(rt.position('notes'), { seq: 101, epoch: r.epoch });

      // since beyond the channel's end (e.g. a position from another server's numbering)
      const rt2 = c.realtime();
      try {
        const r2 = next(rt2, 'resync_required');
        rt2.subscribe('notes', () => {}, { since: 5000, epoch: r.epoch });
        assert.equal((await r2).seq, 101);
      } finally {
        rt2.close();
      }
    } finally {
      rt.close();
    }
  });

  test('close 4401 for an expired token: refresh, reconnect, resubscribe', async () => {
    const signedIn = new CairnClient({ baseUrl: srv.url });
    await signedIn.login(owner.credentials);
    const c = new CairnClient({
      baseUrl: srv.url, token: await expiredCopy(srv, signedIn.tokens.accessToken),
      refreshToken: signedIn.tokens.refreshToken, expiresAt: Date.now() + 3_600_000,
    });
    const rt = c.realtime({ backoff: { baseMs: 50 } });
    try {
      const closed = next(rt, 'close');
      const subscribed = next(rt, 'subscribed');
      rt.subscribe('notes', () => {});
      assert.equal((await closed).code, 4401);
      await subscribed;
      assert.notEqual(c.tokens.refreshToken, signedIn.tokens.refreshToken, 'refreshed');
      assert.equal(rt.state, 'open');
    } finally {
      rt.close();
    }
  });

  test('an API key without realtime.read is refused (4401) and the client stops', async () => {
    const made = await owner.post('/api/v1/api-keys', { name: 'rt-no', permissions: ['notes.read'] });
    const rt = new CairnClient({ baseUrl: srv.url, apiKey: made.key }).realtime();
    const errors = [];
    rt.on('error', (e) => errors.push(e));
    const closed = next(rt, 'close');
    assert.equal((await closed).code, 4401);
    assert.ok(errors.some((e) => e.code === 'unauthorized'), `the reason came first: ${JSON.stringify(errors)}`);
    await waitFor(() => rt.state === 'closed', 5000, 'the client to give up');
    await sleep(300);
    assert.equal(rt.socket, null, 'no new connection');
    rt.close();
  });

  test('an API key authenticates the realtime connection too', async () => {
    const made = await owner.post('/api/v1/api-keys', { name: 'rt', permissions: ['notes.read', 'realtime.read'] });
    const rt = new CairnClient({ baseUrl: srv.url, apiKey: made.key }).realtime();
    try {
      const subscribed = next(rt, 'subscribed');
      const got = [];
      rt.subscribe('notes', (ev) => got.push(ev));
      await subscribed;
      const n = await owner.notes.create({ title: 'seen by the key' });
      await waitFor(() => got.some((e) => e.data.id === n.id), 5000, 'the event');
    } finally {
      rt.close();
    }
  });
});
