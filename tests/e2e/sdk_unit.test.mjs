// @cairn/sdk without a server: back-off with jitter, JWT expiry, the per-channel seq
// bookkeeping (dedupe, resume, resync), the realtime client's reconnect/resume/heartbeat
// over a fake WebSocket, and the REST client's refresh and error handling over a fake fetch.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  CairnClient, CairnError, ChannelState, RealtimeClient, backoffDelay, cookieValue, jwtExpiry,
} from '../../sdk/js/index.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, ms = 2000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims) => `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(claims)}.sig`;

describe('backoffDelay', () => {
  test('full jitter within [0, min(cap, base * 2^attempt))', () => {
    const opts = { baseMs: 250, capMs: 30_000 };
    for (let a = 0; a < 12; a++) {
      const ceiling = Math.min(30_000, 250 * 2 ** a);
      assert.equal(backoffDelay(a, opts, () => 0), 0);
      assert.equal(backoffDelay(a, opts, () => 0.5), Math.floor(ceiling / 2));
      assert.equal(backoffDelay(a, opts, () => 0.999999), ceiling - 1);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(a, opts);
        assert.ok(d >= 0 && d < ceiling, `attempt ${a}: ${d} in [0, ${ceiling})`);
      }
    }
  });

  test('defaults are base 250 ms and cap 30 s; huge attempts stay at the cap', () => {
    assert.equal(backoffDelay(0, undefined, () => 0.999999), 249);
    assert.equal(backoffDelay(3, {}, () => 0.5), 1000);
    assert.equal(backoffDelay(1000, {}, () => 0.999999), 29_999);
    assert.equal(backoffDelay(4, { baseMs: 10, capMs: 100 }, () => 0.999999), 99);
  });

  test('the jitter is spread, not constant', () => {
    const seen = new Set(Array.from({ length: 100 }, () => backoffDelay(6)));
    assert.ok(seen.size > 50, `${seen.size} distinct delays of 100`);
  });
});

test('jwtExpiry reads exp (ms), and null for anything else', () => {
  assert.equal(jwtExpiry(jwt({ exp: 1_900_000_000, sub: 'ü' })), 1_900_000_000_000);
  assert.equal(jwtExpiry('e2e-test-token'), null);
  assert.equal(jwtExpiry('cairn_abcdefgh_secret'), null);
  assert.equal(jwtExpiry(jwt({ sub: 'x' })), null);
  assert.equal(jwtExpiry('a.!!!.b'), null);
  assert.equal(jwtExpiry(undefined), null);
});

describe('ChannelState', () => {
  test('a fresh subscription starts live after the announced seq', () => {
    const c = new ChannelState('notes');
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes' });
    c.subscribed({ seq: 57, epoch: 'E1' });
    assert.equal(c.seq, 57);
    assert.equal(c.accept({ seq: 57, epoch: 'E1' }), false, 'already announced');
    assert.equal(c.accept({ seq: 58, epoch: 'E1' }), true);
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes', since: 58, epoch: 'E1' });
  });

  test('duplicates and old events are dropped; the position only moves forward', () => {
    const c = new ChannelState('notes');
    c.subscribed({ seq: 0, epoch: 'E' });
    const delivered = [];
    for (const seq of [1, 2, 2, 3, 1, 4, 4, 3, 5]) if (c.accept({ seq, epoch: 'E' })) delivered.push(seq);
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    assert.equal(c.seq, 5);
  });

  test('since/epoch given: the first subscribe asks for them, and the replay is kept', () => {
    const c = new ChannelState('notes', { since: 41, epoch: 'E' });
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes', since: 41, epoch: 'E' });
    c.subscribed({ seq: 57, epoch: 'E' });
    assert.equal(c.seq, 41, 'the missed events 42..57 follow');
    assert.equal(c.accept({ seq: 42, epoch: 'E' }), true);
    // since without an epoch asks without one
    assert.deepEqual(new ChannelState('n', { since: 3 }).subscribeMessage(), { op: 'subscribe', channel: 'n', since: 3 });
  });

  test('a channel without events yet announces no epoch (""): the first event brings it', () => {
    const c = new ChannelState('notes');
    c.subscribed({ seq: 0, epoch: '' });
    assert.equal(c.epoch, null);
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes', since: 0 });
    assert.equal(c.accept({ seq: 1, epoch: 'E' }), true);
    assert.equal(c.accept({ seq: 1, epoch: 'E' }), false);
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes', since: 1, epoch: 'E' });
  });

  test('resync moves to the server position; an epoch change restarts the numbering', () => {
    const c = new ChannelState('notes', { since: 5, epoch: 'OLD' });
    c.resync({ seq: 900, epoch: 'NEW' });
    assert.deepEqual(c.subscribeMessage(), { op: 'subscribe', channel: 'notes', since: 900, epoch: 'NEW' });
    assert.equal(c.accept({ seq: 900, epoch: 'NEW' }), false);
    assert.equal(c.accept({ seq: 901, epoch: 'NEW' }), true);
    // a restarted numbering (another epoch) is new even with a smaller seq
    assert.equal(c.accept({ seq: 1, epoch: 'NEWER' }), true);
    assert.equal(c.epoch, 'NEWER');
    assert.equal(c.accept({ seq: 1, epoch: 'NEWER' }), false);
  });
});

// ---- a fake WebSocket the tests drive by hand ----

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWS.all.push(this);
  }
  get ops() { return this.sent.map((s) => JSON.parse(s)); }
  send(d) { this.sent.push(d); }
  open() { this.readyState = 1; this.onopen?.({}); }
  push(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  close(code = 1000, reason = '') {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
  terminate() { this.close(1006); }
  static last() { return FakeWS.all.at(-1); }
}

function fakeClient({ token = 'AT1', refresh } = {}) {
  const c = new CairnClient({ baseUrl: 'http://cairn.test', token, refreshToken: 'RT1', fetch: async () => { throw new Error('no fetch'); } });
  c.refreshCalls = 0;
  c.refresh = async () => { c.refreshCalls++; c.setTokens(refresh ?? { access_token: `AT${c.refreshCalls + 1}`, refresh_token: `RT${c.refreshCalls + 1}` }); return c.tokens; };
  return c;
}

// every realtime client a test makes is closed after it, so a failed test leaves no
// client reconnecting into the next one's sockets
const made = [];
function realtime(client, opts) {
  const rt = new RealtimeClient(client, opts);
  made.push(rt);
  return rt;
}

/** A realtime client on a fake socket, opened and ready. */
async function openRealtime(opts = {}) {
  FakeWS.all = [];
  const client = opts.client ?? fakeClient();
  const rt = realtime(client, { WebSocket: FakeWS, random: () => 0, ...opts });
  await until(() => FakeWS.all.length === 1, 'a socket');
  FakeWS.last().open();
  FakeWS.last().push({ op: 'ready', tenant_id: 't', subject: 'u', heartbeat_s: 30 });
  return { rt, client };
}

describe('RealtimeClient (fake socket)', () => {
  afterEach(() => {
    for (const rt of made.splice(0)) rt.close();
    FakeWS.all = [];
  });

  test('authenticates with the first message, then subscribes', async () => {
    const { rt } = await openRealtime();
    const ws = FakeWS.last();
    assert.equal(ws.url, 'ws://cairn.test/api/v1/realtime');
    assert.deepEqual(ws.ops, [{ op: 'auth', token: 'AT1' }]);
    assert.equal(rt.state, 'open');
    rt.subscribe('notes', () => {});
    assert.deepEqual(ws.ops.at(-1), { op: 'subscribe', channel: 'notes' });
    rt.close();
    assert.equal(rt.state, 'closed');
  });

  test('reconnects with back-off and resumes every channel from its last seq; duplicates dropped', async () => {
    const { rt } = await openRealtime();
    const got = { notes: [], 'notes:x': [] };
    const states = [];
    rt.on('state', (s) => states.push(s));
    rt.subscribe('notes', (e) => got.notes.push(e.seq));
    rt.subscribe('notes:x', (e) => got['notes:x'].push(e.seq), { since: 7, epoch: 'X' });
    let ws = FakeWS.last();
    assert.deepEqual(ws.ops.slice(1), [{ op: 'subscribe', channel: 'notes' }, { op: 'subscribe', channel: 'notes:x', since: 7, epoch: 'X' }]);
    ws.push({ op: 'subscribed', channel: 'notes', seq: 10, epoch: 'E' });
    ws.push({ op: 'subscribed', channel: 'notes:x', seq: 9, epoch: 'X' });
    for (const seq of [8, 9]) ws.push({ op: 'event', channel: 'notes:x', seq, epoch: 'X', type: 't', data: {} });
    for (const seq of [11, 12, 12, 13]) ws.push({ op: 'event', channel: 'notes', seq, epoch: 'E', type: 't', data: {} });

    ws.terminate();
    await until(() => FakeWS.all.length === 2, 'a reconnect');
    assert.deepEqual(states, ['reconnecting']);
    ws = FakeWS.last();
    ws.open();
    ws.push({ op: 'ready' });
    assert.deepEqual(ws.ops, [
      { op: 'auth', token: 'AT1' },
      { op: 'subscribe', channel: 'notes', since: 13, epoch: 'E' },
      { op: 'subscribe', channel: 'notes:x', since: 9, epoch: 'X' },
    ]);
    ws.push({ op: 'subscribed', channel: 'notes', seq: 15, epoch: 'E' });
    // the server replays 14, 15; an overlap (13) would be dropped
    for (const seq of [13, 14, 15, 16]) ws.push({ op: 'event', channel: 'notes', seq, epoch: 'E', type: 't', data: {} });
    assert.deepEqual(got.notes, [11, 12, 13, 14, 15, 16]);
    assert.deepEqual(got['notes:x'], [8, 9]);
    assert.deepEqual(rt.position('notes'), { seq: 16, epoch: 'E' });
    assert.deepEqual(states, ['reconnecting', 'open']);
    rt.close();
  });

  test('back-off grows while connections fail, with the configured base', async () => {
    FakeWS.all = [];
    const delays = [];
    const realSetTimeout = globalThis.setTimeout;
    const rt = realtime(fakeClient(), { WebSocket: FakeWS, random: () => 0.5, backoff: { baseMs: 8, capMs: 40 } });
    globalThis.setTimeout = (fn, ms, ...a) => { if (ms >= 4) delays.push(ms); return realSetTimeout(fn, ms, ...a); };
    try {
      for (let i = 1; i <= 5; i++) {
        await until(() => FakeWS.all.length === i, `attempt ${i}`);
        FakeWS.last().close(1006); // fails before opening
      }
      await until(() => FakeWS.all.length === 6, 'attempt 6');
    } finally {
      globalThis.setTimeout = realSetTimeout;
      rt.close();
    }
    assert.deepEqual(delays, [4, 8, 16, 20, 20]);
  });

  test('the back-off resets after a stable connection', async () => {
    FakeWS.all = [];
    const rt = realtime(fakeClient(), { WebSocket: FakeWS, random: () => 0.999, backoff: { baseMs: 20, capMs: 10_000, stableMs: 30 } });
    for (let i = 1; i <= 4; i++) {
      await until(() => FakeWS.all.length === i, `attempt ${i}`);
      FakeWS.last().close(1006);
    }
    await until(() => FakeWS.all.length === 5, 'attempt 5');
    assert.equal(rt._attempt, 4);
    FakeWS.last().open();
    FakeWS.last().push({ op: 'ready' });
    await sleep(60);
    assert.equal(rt._attempt, 0, 'reset after stableMs');
    FakeWS.last().close(1008); // slow consumer: reconnect and resume
    await until(() => FakeWS.all.length === 6, 'attempt 6');
    assert.equal(rt._attempt, 1, 'the back-off started again from the base delay');
    rt.close();
  });

  test('resync_required: the handler runs and the channel resubscribes from the new seq', async () => {
    const { rt } = await openRealtime();
    const events = [];
    const resyncs = [];
    rt.on('resync_required', (r) => resyncs.push(r));
    rt.subscribe('notes', (e) => events.push(e.seq), { since: 3, epoch: 'E' });
    const ws = FakeWS.last();
    ws.push({ op: 'resync_required', channel: 'notes', seq: 500, epoch: 'E2' });
    assert.deepEqual(resyncs, [{ channel: 'notes', seq: 500, epoch: 'E2' }]);
    assert.deepEqual(ws.ops.at(-1), { op: 'subscribe', channel: 'notes', since: 500, epoch: 'E2' });
    ws.push({ op: 'subscribed', channel: 'notes', seq: 500, epoch: 'E2' });
    ws.push({ op: 'event', channel: 'notes', seq: 501, epoch: 'E2', type: 't', data: {} });
    assert.deepEqual(events, [501]);
    rt.close();
  });

  test('close code 4401 refreshes the token before reconnecting', async () => {
    const { rt, client } = await openRealtime();
    FakeWS.last().close(4401, 'unauthorized');
    await until(() => FakeWS.all.length === 2, 'a reconnect');
    assert.equal(client.refreshCalls, 1);
    FakeWS.last().open();
    assert.deepEqual(FakeWS.last().ops[0], { op: 'auth', token: 'AT2' });
    // a 1008 (slow consumer) or 1001 reconnects without a refresh
    FakeWS.last().close(1008);
    await until(() => FakeWS.all.length === 3, 'a reconnect');
    FakeWS.last().open();
    assert.deepEqual(FakeWS.last().ops[0], { op: 'auth', token: 'AT2' });
    assert.equal(client.refreshCalls, 1);
    rt.close();
  });

  test('4401 with an API key (nothing to refresh) gives up', async () => {
    FakeWS.all = [];
    const client = new CairnClient({ baseUrl: 'https://cairn.test', apiKey: 'cairn_k_s', fetch: async () => {} });
    const rt = realtime(client, { WebSocket: FakeWS, random: () => 0 });
    await until(() => FakeWS.all.length === 1, 'a socket');
    assert.equal(FakeWS.last().url, 'wss://cairn.test/api/v1/realtime');
    FakeWS.last().open();
    assert.deepEqual(FakeWS.last().ops[0], { op: 'auth', token: 'cairn_k_s' });
    FakeWS.last().close(4401);
    await until(() => rt.state === 'closed', 'closed');
    await sleep(20);
    assert.equal(FakeWS.all.length, 1);
  });

  test('an expired access token is refreshed before connecting', async () => {
    FakeWS.all = [];
    const client = fakeClient({ token: jwt({ exp: Math.floor(Date.now() / 1000) - 5 }) });
    const rt = realtime(client, { WebSocket: FakeWS });
    await until(() => FakeWS.all.length === 1, 'a socket');
    FakeWS.last().open();
    assert.equal(client.refreshCalls, 1);
    assert.deepEqual(FakeWS.last().ops[0], { op: 'auth', token: 'AT2' });
    rt.close();
  });

  test('heartbeat: pings when idle, and a silent connection is dropped and replaced', async () => {
    const { rt } = await openRealtime({ heartbeatMs: 250 });
    const ws = FakeWS.last();
    await until(() => ws.ops.some((o) => o.op === 'ping'), 'a ping', 3000);
    ws.push({ op: 'pong' });
    const pings = ws.ops.filter((o) => o.op === 'ping').length;
    // no answer any more: dead after two intervals
    await until(() => FakeWS.all.length === 2, 'a reconnect after the heartbeat timeout', 3000);
    assert.ok(ws.ops.filter((o) => o.op === 'ping').length >= pings);
    assert.equal(ws.readyState, 3, 'the dead socket was terminated');
    rt.close();
  });

  test('states: connecting, open, reconnecting, open, closed; a socket that never opens is dropped', async () => {
    FakeWS.all = [];
    const rt = realtime(fakeClient(), { WebSocket: FakeWS, random: () => 0, heartbeatMs: 250 });
    const states = [];
    rt.on('state', (x) => states.push(x));
    await until(() => FakeWS.all.length === 1, 'a socket');
    FakeWS.last().open();
    FakeWS.last().push({ op: 'ready' });
    FakeWS.last().close(1001, 'server shutting down');
    await until(() => FakeWS.all.length === 2, 'a reconnect');
    // this one hangs before opening: after two heartbeat intervals it is given up and replaced
    await until(() => FakeWS.all.length === 3, 'a replacement for the hung socket', 3000);
    assert.equal(FakeWS.all[1].readyState, 3);
    FakeWS.last().open();
    FakeWS.last().push({ op: 'ready' });
    rt.close();
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });

  test('unsubscribe sends unsubscribe when the last handler goes; a refused channel is dropped', async () => {
    const { rt } = await openRealtime();
    const ws = FakeWS.last();
    const errors = [];
    rt.on('error', (e) => errors.push(e));
    const u1 = rt.subscribe('notes', () => {});
    const u2 = rt.subscribe('notes', () => {});
    assert.equal(ws.ops.filter((o) => o.op === 'subscribe').length, 1);
    u1();
    assert.equal(ws.ops.at(-1).op, 'subscribe');
    u2();
    assert.deepEqual(ws.ops.at(-1), { op: 'unsubscribe', channel: 'notes' });
    assert.equal(rt.position('notes'), null);
    rt.subscribe('secret', () => {});
    ws.push({ op: 'error', code: 'forbidden', message: 'no', channel: 'secret' });
    assert.equal(rt.position('secret'), null);
    assert.equal(errors[0].code, 'forbidden');
    rt.close();
  });

  test('a channel the server cannot read now (unavailable) is asked for again', async () => {
    const { rt } = await openRealtime({ backoff: { baseMs: 1, capMs: 4 } });
    const ws = FakeWS.last();
    rt.subscribe('notes', () => {}, { since: 4, epoch: 'E' });
    ws.push({ op: 'error', code: 'unavailable', message: 'retry', channel: 'notes' });
    await until(() => ws.ops.filter((o) => o.op === 'subscribe').length === 2, 'a second subscribe');
    assert.deepEqual(ws.ops.at(-1), { op: 'subscribe', channel: 'notes', since: 4, epoch: 'E' });
    rt.close();
  });
});

// ---- REST over a fake fetch ----

function problemResponse(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', 'x-request-id': body.request_id ?? 'r', ...headers } });
}
const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('CairnClient (fake fetch)', () => {
  test('concurrent 401s for an expired token share one refresh and each retry once', async () => {
    const calls = [];
    const fetch = async (url, init) => {
      const u = new URL(url);
      calls.push(`${init.method} ${u.pathname}`);
      if (u.pathname === '/api/v1/auth/refresh') {
        await sleep(20);
        assert.deepEqual(JSON.parse(init.body), { refresh_token: 'R1' });
        return json({ access_token: 'NEW', refresh_token: 'R2', token_type: 'Bearer', expires_in: 900 });
      }
      if (init.headers.authorization !== 'Bearer NEW') // OLD has expired
        return problemResponse(401, { type: 'urn:cairn:problem:token-expired', title: 'Unauthorized', status: 401, detail: 'the token has expired' });
      return json({ ok: u.pathname });
    };
    const seen = [];
    const c = new CairnClient({ baseUrl: 'http://x/', token: 'OLD', refreshToken: 'R1', fetch, onTokens: (t) => seen.push(t) });
    const out = await Promise.all([1, 2, 3, 4, 5].map((i) => c.get(`/p${i}`)));
    assert.deepEqual(out.map((o) => o.ok), ['/p1', '/p2', '/p3', '/p4', '/p5']);
    assert.equal(calls.filter((x) => x.endsWith('/refresh')).length, 1);
    assert.equal(calls.length, 11);
    assert.equal(c.tokens.refreshToken, 'R2');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].accessToken, 'NEW');
  });

  test('a token about to expire is refreshed before the request', async () => {
    const paths = [];
    const fetch = async (url, init) => {
      paths.push(new URL(url).pathname);
      if (paths.at(-1).endsWith('/refresh')) return json({ access_token: 'B', refresh_token: 'RB', expires_in: 900 });
      return json({ auth: init.headers.authorization });
    };
    const c = new CairnClient({ baseUrl: 'http://x', token: jwt({ exp: Math.floor(Date.now() / 1000) + 10 }), refreshToken: 'RA', fetch });
    assert.deepEqual(await c.get('/a'), { auth: 'Bearer B' });
    assert.deepEqual(paths, ['/api/v1/auth/refresh', '/a']);
    assert.ok(c.tokens.expiresAt > Date.now() + 800_000);
  });

  test('a 401 token-revoked (signed out) is thrown without a refresh, and signs the client out', async () => {
    let n = 0;
    const seen = [];
    const c = new CairnClient({ baseUrl: 'http://x', token: 'T', refreshToken: 'R', onTokens: (t) => seen.push(t), fetch: async () => {
      n++;
      return problemResponse(401, { type: 'urn:cairn:problem:token-revoked', title: 'Unauthorized', status: 401, detail: 'the session has expired' });
    } });
    await assert.rejects(c.get('/a'), (e) => e instanceof CairnError && e.status === 401 && e.slug === 'token-revoked');
    assert.equal(n, 1, 'no refresh, although the text says "expired"');
    assert.equal(c.tokens, null);
    assert.deepEqual(seen, [null]);
  });

  test('the problem type decides a refresh, never the text', async () => {
    const calls = [];
    const answers = {
      // an expiry that does not say so in words: refreshed, then retried
      'Bearer T1': { type: 'urn:cairn:problem:token-expired', detail: "the token's signing key was retired" },
      // words about expiry in another problem: thrown as it is, the tokens kept
      'Bearer T2': { type: 'urn:cairn:problem:unauthorized', detail: 'the challenge is unknown, used or expired' },
    };
    const fetch = async (url, init) => {
      const u = new URL(url);
      calls.push(`${u.pathname} ${init.headers.authorization ?? ''}`.trim());
      if (u.pathname.endsWith('/refresh')) return json({ access_token: 'T2', refresh_token: 'R2', expires_in: 900 });
      const a = answers[init.headers.authorization];
      return a ? problemResponse(401, { title: 'Unauthorized', status: 401, ...a }) : json({});
    };
    const c = new CairnClient({ baseUrl: 'http://x', token: 'T1', refreshToken: 'R1', expiresAt: Date.now() + 600_000, fetch });
    const e = await c.get('/a').catch((x) => x);
    assert.deepEqual(calls, ['/a Bearer T1', '/api/v1/auth/refresh', '/a Bearer T2']);
    assert.equal(e.slug, 'unauthorized');
    assert.equal(c.tokens.accessToken, 'T2', 'not signed out');
    assert.equal(new CairnError({ type: 'about:blank' }).slug, null);
  });

  test('a refused refresh clears the tokens and tells the listeners', async () => {
    const seen = [];
    const c = new CairnClient({ baseUrl: 'http://x', token: 'T', refreshToken: 'R', onTokens: (t) => seen.push(t), fetch: async () =>
      problemResponse(401, { type: 'urn:cairn:problem:unauthorized', title: 'Unauthorized', status: 401, detail: 'the refresh token is not valid' }) });
    await assert.rejects(c.refresh(), (e) => e.status === 401);
    assert.equal(c.tokens, null);
    assert.deepEqual(seen, [null]);
  });

  test('problem+json fields, query strings, 204 and network errors', async () => {
    const fetch = async (url, init) => {
      const u = new URL(url);
      if (u.pathname === '/bad') return problemResponse(422, { type: 'urn:cairn:problem:validation-failed', title: 'Unprocessable Content', status: 422,
        detail: 'the request body has invalid fields', request_id: 'rid-1', errors: [{ field: 'title', message: 'must not be empty' }] });
      if (u.pathname === '/gone') return new Response(null, { status: 204 });
      if (u.pathname === '/down') throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
      return json({ query: u.search, body: init.body ?? null, ct: init.headers['content-type'] ?? null });
    };
    const c = new CairnClient({ baseUrl: 'http://x', fetch });
    assert.deepEqual(await c.get('/q', { query: { limit: 5, cursor: undefined, a: 'b c' } }), { query: '?limit=5&a=b+c', body: null, ct: null });
    assert.deepEqual(await c.post('/q', { t: 1 }), { query: '', body: '{"t":1}', ct: 'application/json' });
    assert.equal(await c.delete('/gone'), undefined);
    const e = await c.post('/bad', {}).catch((x) => x);
    assert.ok(e instanceof CairnError && e instanceof Error);
    assert.equal(e.status, 422);
    assert.equal(e.type, 'urn:cairn:problem:validation-failed');
    assert.equal(e.title, 'Unprocessable Content');
    assert.equal(e.detail, 'the request body has invalid fields');
    assert.equal(e.request_id, 'rid-1');
    assert.deepEqual(e.errors, [{ field: 'title', message: 'must not be empty' }]);
    const n = await c.get('/down').catch((x) => x);
    assert.ok(n instanceof CairnError);
    assert.equal(n.status, 0);
    assert.equal(n.type, 'urn:cairn:sdk:network-error');
    assert.match(n.detail, /ECONNREFUSED/);
  });

  test('login: MFA step through totp (value or function), or the challenge returned', async () => {
    const bodies = [];
    const fetch = async (url, init) => {
      const p = new URL(url).pathname;
      bodies.push([p, JSON.parse(init.body)]);
      if (p.endsWith('/login')) return json({ mfa_required: true, challenge: 'CH', expires_in: 300 });
      return json({ access_token: 'A', refresh_token: 'R', token_type: 'Bearer', expires_in: 900 });
    };
    const c = new CairnClient({ baseUrl: 'http://x', fetch });
    const step = await c.login({ tenant: 't', email: 'e', password: 'p' });
    assert.deepEqual(step, { mfaRequired: true, challenge: 'CH', expiresIn: 300 });
    assert.equal(c.tokens, null);
    const done = await c.login({ tenant: 't', email: 'e', password: 'p', totp: async () => '123456' });
    assert.equal(done.mfaRequired, false);
    assert.equal(done.tokens.accessToken, 'A');
    assert.deepEqual(bodies.at(-1), ['/api/v1/auth/mfa/verify', { challenge: 'CH', code: '123456' }]);
    await c.verifyMfa({ challenge: 'CH', recoveryCode: 'rc' });
    assert.deepEqual(bodies.at(-1), ['/api/v1/auth/mfa/verify', { challenge: 'CH', recovery_code: 'rc' }]);
  });
});

describe('CairnClient cookie mode (fake fetch)', () => {
  test('cookieValue reads one cookie of a Cookie string', () => {
    assert.equal(cookieValue('a=1; cairn_csrf=tok%2Fx; b=2', 'cairn_csrf'), 'tok/x');
    assert.equal(cookieValue('xcairn_csrf=1', 'cairn_csrf'), null);
    assert.equal(cookieValue('', 'cairn_csrf'), null);
    assert.equal(cookieValue(undefined, 'a'), null);
  });

  test('unsafe methods carry X-CSRF-Token, safe ones do not; sign-in asks for cookies; no Authorization', async () => {
    const seen = [];
    const fetch = async (url, init) => {
      seen.push({ method: init.method, path: new URL(url).pathname, headers: init.headers, body: init.body, credentials: init.credentials });
      if (new URL(url).pathname === '/api/v1/auth/login') return json({ token_type: 'Bearer', expires_in: 900 });
      return json({});
    };
    const c = new CairnClient({ baseUrl: 'http://x', cookie: true, fetch, csrfToken: () => 'CSRF' });
    assert.deepEqual(await c.login({ tenant: 't', email: 'e@x', password: 'p' }), { mfaRequired: false, tokens: null });
    assert.deepEqual(JSON.parse(seen[0].body), { tenant: 't', email: 'e@x', password: 'p', cookie: true });
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) await c.request(m, '/p');
    const csrf = Object.fromEntries(seen.slice(1).map((s) => [s.method, s.headers['x-csrf-token'] ?? null]));
    assert.deepEqual(csrf, { GET: null, POST: 'CSRF', PUT: 'CSRF', PATCH: 'CSRF', DELETE: 'CSRF' });
    assert.ok(seen.every((s) => s.credentials === 'same-origin' && !s.headers.authorization));
    assert.equal(c.signedIn, true);
  });

  test('switchTenant in cookie mode: the cookies move (cookie: true, CSRF, the refresh lock held); a challenge signs out', async () => {
    const seen = [];
    const held = [];
    let answer = { token_type: 'Bearer', expires_in: 900 };
    const fetch = async (url, init) => {
      seen.push({ path: new URL(url).pathname, body: init.body && JSON.parse(init.body), headers: init.headers, held: [...held] });
      return json(answer);
    };
    const locks = { request: async (name, fn) => { held.push(name); try { return await fn(); } finally { held.pop(); } } };
    const states = [];
    const c = new CairnClient({ baseUrl: 'http://x', cookie: true, fetch, csrfToken: () => 'CSRF', locks, onSession: (v) => states.push(v) });
    assert.deepEqual(await c.switchTenant({ tenant: 'beta' }), { mfaRequired: false, tokens: null });
    assert.deepEqual(seen[0], { path: '/api/v1/auth/switch', body: { tenant: 'beta', cookie: true },
      headers: seen[0].headers, held: ['cairn-session-refresh'] });
    assert.equal(seen[0].headers['x-csrf-token'], 'CSRF');
    assert.equal(c.signedIn, true);
    answer = { mfa_required: true, challenge: 'CH', expires_in: 300 };
    assert.deepEqual(await c.switchTenant({ tenant: 'gamma' }), { mfaRequired: true, challenge: 'CH', expiresIn: 300 });
    assert.equal(c.signedIn, false, 'the session ended');
    assert.deepEqual(states, [true, false]);
  });

  test('switchTenant in cookie mode with a stale access cookie refreshes outside the lock, then switches', async () => {
    const seen = [];
    const held = [];
    let expired = true;
    const fetch = async (url, init) => {
      const path = new URL(url).pathname;
      seen.push(`${init.method} ${path}${held.length ? ' (locked)' : ''}`);
      if (path === '/api/v1/auth/refresh') { expired = false; return json({ token_type: 'Bearer', expires_in: 900 }); }
      if (expired) return problemResponse(401, { type: 'urn:cairn:problem:token-expired', status: 401, detail: 'expired' });
      return json({ token_type: 'Bearer', expires_in: 900 });
    };
    // a lock that, like Web Locks, is not re-entrant: a nested request for it never resolves
    const locks = { request: (name, fn) => {
      if (held.length) return new Promise(() => {});
      held.push(name);
      return Promise.resolve().then(fn).finally(() => held.pop());
    } };
    const c = new CairnClient({ baseUrl: 'http://x', cookie: true, fetch, csrfToken: () => 'CSRF', locks });
    assert.deepEqual(await c.switchTenant({ tenant: 'beta' }), { mfaRequired: false, tokens: null });
    assert.deepEqual(seen, ['POST /api/v1/auth/switch (locked)', 'GET /api/v1/auth/session (locked)',
      'POST /api/v1/auth/refresh (locked)', 'POST /api/v1/auth/switch (locked)']);
  });

  test('switchTenant in token mode spends the current refresh token and keeps the new pair', async () => {
    const bodies = [];
    let n = 0;
    const fetch = async (url, init) => {
      bodies.push({ path: new URL(url).pathname, body: init.body && JSON.parse(init.body), auth: init.headers.authorization });
      n++;
      return json({ access_token: `A${n}`, refresh_token: `R${n}`, expires_in: 900 });
    };
    const c = new CairnClient({ baseUrl: 'http://x', fetch });
    await c.login({ tenant: 't', email: 'e@x', password: 'p' });
    await c.switchTenant({ tenant: 'u' });
    assert.deepEqual(bodies[1], { path: '/api/v1/auth/switch', body: { tenant: 'u', refresh_token: 'R1' }, auth: 'Bearer A1' });
    assert.equal(c.tokens.refreshToken, 'R2');
  });

  test('token mode is unchanged: no CSRF header, no credentials option, tokens from the answer', async () => {
    const seen = [];
    const fetch = async (url, init) => {
      seen.push(init);
      return json({ access_token: 'A', refresh_token: 'R', expires_in: 900 });
    };
    const c = new CairnClient({ baseUrl: 'http://x', fetch, csrfToken: () => 'CSRF' });
    await c.login({ tenant: 't', email: 'e@x', password: 'p' });
    await c.post('/p', {});
    assert.equal(JSON.parse(seen[0].body).cookie, undefined);
    assert.equal(seen[1].headers['x-csrf-token'], undefined);
    assert.equal(seen[1].headers.authorization, 'Bearer A');
    assert.equal(seen[1].credentials, undefined);
  });

  test('a 401 without any cookie session signs out without a refresh; a 429 carries Retry-After', async () => {
    const paths = [];
    const fetch = async (url) => {
      paths.push(new URL(url).pathname);
      if (paths.at(-1) === '/limited') return problemResponse(429, { type: 'urn:cairn:problem:rate-limited', status: 429, detail: 'slow down' }, { 'retry-after': '42' });
      return problemResponse(401, { type: 'urn:cairn:problem:unauthorized', status: 401, detail: 'no credential' });
    };
    const c = new CairnClient({ baseUrl: 'http://x', cookie: true, fetch, csrfToken: () => null });
    assert.equal(await c.session(), null);
    assert.deepEqual(paths, ['/api/v1/auth/session'], 'no CSRF cookie: no session to refresh');
    assert.equal(c.signedIn, false);
    await assert.rejects(c.get('/limited'), (e) => e.status === 429 && e.retryAfter === 42);
  });
});

describe('upload progress (fake XMLHttpRequest)', () => {
  // What a browser's XMLHttpRequest does, as far as the SDK uses it: the body "sent" in two
  // progress steps, then the answer given by `answer`.
  function fakeXhr(answer, requests) {
    return class FakeXhr {
      constructor() {
        this.headers = {};
        this.upload = {};
        requests.push(this);
      }
      open(method, url) { Object.assign(this, { method, url }); }
      setRequestHeader(k, v) { this.headers[k] = v; }
      getResponseHeader(name) { return this.answerHeaders[name.toLowerCase()] ?? null; }
      abort() { this.onabort?.(); }
      send(body) {
        this.body = body;
        setTimeout(() => {
          const total = body.length;
          this.upload.onprogress?.({ loaded: Math.floor(total / 2), total, lengthComputable: true });
          this.upload.onprogress?.({ loaded: total, total, lengthComputable: true });
          const a = answer(this);
          Object.assign(this, { status: a.status, statusText: '', responseText: a.body, answerHeaders: a.headers });
          this.onload();
        }, 1);
      }
    };
  }
  const saved = globalThis.XMLHttpRequest;
  afterEach(() => { globalThis.XMLHttpRequest = saved; });

  test('a body sent with onUploadProgress goes through XMLHttpRequest: progress, headers, the answer', async () => {
    const requests = [];
    globalThis.XMLHttpRequest = fakeXhr(() => ({ status: 202, body: '{"id":"i1","state":"queued","bytes":9}',
      headers: { 'content-type': 'application/json' } }), requests);
    const fetch = async () => assert.fail('fetch is not used for a request that asks for upload progress');
    const c = new CairnClient({ baseUrl: 'http://x', cookie: true, fetch, csrfToken: () => 'CSRF' });
    const steps = [];
    const r = await c.insights.importCsv('a,b\n1,2\n', { onUploadProgress: (p) => steps.push(p) });
    assert.deepEqual(r, { id: 'i1', state: 'queued', bytes: 9 });
    assert.deepEqual(steps, [{ loaded: 4, total: 8 }, { loaded: 8, total: 8 }]);
    const [x] = requests;
    assert.equal(x.method, 'POST');
    assert.equal(x.url, 'http://x/api/v1/interactions/import');
    assert.equal(x.body, 'a,b\n1,2\n');
    assert.equal(x.headers['content-type'], 'text/csv');
    assert.equal(x.headers['x-csrf-token'], 'CSRF');
  });

  test('a problem answered through XMLHttpRequest is a CairnError; without the option fetch is used', async () => {
    const requests = [];
    globalThis.XMLHttpRequest = fakeXhr(() => ({ status: 422, headers: { 'content-type': 'application/problem+json' },
      body: JSON.stringify({ type: 'urn:cairn:problem:validation-failed', status: 422, detail: 'bad header',
        errors: [{ field: 'header', message: 'unknown column "x"' }] }) }), requests);
    let fetched = 0;
    const fetch = async () => { fetched++; return json({ ok: true }); };
    const c = new CairnClient({ baseUrl: 'http://x', token: 'T', fetch });
    await assert.rejects(c.insights.importCsv('x\n', { onUploadProgress: () => {} }),
      (e) => e instanceof CairnError && e.status === 422 && e.errors[0].field === 'header');
    assert.equal(requests[0].headers.authorization, 'Bearer T');
    assert.deepEqual(await c.insights.importCsv('x\n'), { ok: true });
    assert.equal(fetched, 1);
    assert.equal(requests.length, 1);
  });
});
