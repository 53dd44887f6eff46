// Realtime hub over raw WebSockets (the protocol of docs/realtime.md) and SSE, against the
// real binary. The SDK's own tests (sdk.test.mjs) cover reconnection through the SDK.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import {
  TOKEN, api, assertProblem, connect, dbQuery, request, sleep, startServer, stopAllServers, waitFor,
  withTimeout,
} from './lib/server.mjs';

/** A WebSocket client that keeps every message and lets tests wait for one. */
function client(url, { token = TOKEN, header = true } = {}) {
  const ws = new WebSocket(url.replace('http', 'ws') + '/api/v1/realtime', {
    headers: header && token ? { authorization: `Bearer ${token}` } : {},
  });
  const msgs = [];
  const waiters = [];
  const c = {
    ws, msgs, closed: null,
    opened: new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }),
    send: (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o)),
    events: (channel = 'notes') => msgs.filter((m) => m.op === 'event' && m.channel === channel),
    /** resolves with the first message (from index from on) that pred accepts */
    next(pred, ms = 5000, from = 0) {
      const i = msgs.findIndex((m, k) => k >= from && pred(m));
      if (i >= 0) return Promise.resolve(msgs[i]);
      return withTimeout(new Promise((resolve) => waiters.push({ pred, resolve })), ms,
        'a realtime message');
    },
    closeInfo: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
  };
  ws.on('message', (data, isBinary) => {
    const m = JSON.parse(data.toString());
    msgs.push(m);
    for (let i = waiters.length - 1; i >= 0; i--)
      if (waiters[i].pred(m)) { waiters[i].resolve(m); waiters.splice(i, 1); }
  });
  return c;
}

async function ready(c) {
  await c.opened;
  return c.next((m) => m.op === 'ready');
}

async function subscribed(c, sub) {
  const from = c.msgs.length;
  c.send({ op: 'subscribe', ...sub });
  return c.next((m) => (m.op === 'subscribed' || m.op === 'error') && m.channel === sub.channel, 5000, from);
}

const createNote = (srv, title, token = TOKEN, body = '') => api(srv.url, token).post('/api/v1/notes', { title, body });

async function eventsUntil(c, n, ms = 10_000, channel = 'notes') {
  await waitFor(() => c.events(channel).length >= n, ms, `${n} events (have ${c.events(channel).length})`);
  return c.events(channel);
}

function assertContiguous(events, first) {
  events.forEach((e, i) => assert.equal(e.seq, first + i, `event ${i} has seq ${e.seq}`));
}

describe('realtime hub', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { CAIRN_REALTIME_MAX_MESSAGE_BYTES: '1024' } }); });
  after(stopAllServers);

  test('HEAD of the event stream answers headers only; the connection stays usable', async () => {
    const sock = await connect(srv.port);
    try {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      sock.write(`HEAD /api/v1/realtime/sse?channel=notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
      await waitFor(() => buf.includes('\r\n\r\n'), 5000, 'the HEAD response');
      await sleep(200);
      const end = buf.indexOf('\r\n\r\n') + 4;
      assert.match(buf.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 200 [^]*content-type: text\/event-stream/i);
      assert.equal(buf.subarray(end).length, 0, 'no body after the headers of a HEAD');
      buf = Buffer.alloc(0);
      sock.write('GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor(() => buf.includes('\r\n\r\n'), 5000, 'the next answer');
      assert.match(buf.toString('latin1'), /^HTTP\/1\.1 200 /);
    } finally {
      sock.destroy();
    }
  });

  test('a plain GET is told to upgrade (426 problem)', async () => {
    const p = assertProblem(await api(srv.url).get('/api/v1/realtime'), 426);
    assert.match(p.detail, /WebSocket/);
  });

  test('a bad bearer token on the upgrade is refused before it (401)', async () => {
    const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/realtime', { headers: { authorization: 'Bearer nope.nope.nope' } });
    const res = await new Promise((resolve) => ws.on('unexpected-response', (req, r) => resolve(r)));
    assert.equal(res.statusCode, 401);
    let body = '';
    for await (const chunk of res) body += chunk;
    const p = JSON.parse(body);
    assert.equal(p.type, 'urn:cairn:problem:token-invalid', 'the hook\'s own problem type');
  });

  test('created, updated and deleted notes arrive in order with their seq and data', async () => {
    const c = client(srv.url);
    await ready(c);
    const s = await subscribed(c, { channel: 'notes' });
    const base = s.seq;
    const n = (await createNote(srv, 'first')).json;
    await api(srv.url).patch(`/api/v1/notes/${n.id}`, { title: 'second' });
    await api(srv.url).delete(`/api/v1/notes/${n.id}`);
    const ev = await eventsUntil(c, 3);
    assert.deepEqual(ev.map((e) => e.type), ['note.created', 'note.updated', 'note.deleted']);
    assertContiguous(ev, base + 1);
    assert.equal(ev[0].data.title, 'first');
    assert.equal(ev[1].data.title, 'second');
    assert.deepEqual(ev[2].data, { id: n.id });
    assert.ok(ev[0].epoch.length > 0 && ev.every((e) => e.epoch === ev[0].epoch));
    const m = (await api(srv.url).get('/metrics')).text;
    const value = (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(m)?.[1]);
    assert.ok(value('cairn_realtime_connections') >= 1);
    assert.ok(value('cairn_realtime_subscriptions') >= 1);
    assert.ok(value('cairn_realtime_deliveries_total') >= 3);
    assert.ok(value('cairn_realtime_events_total') >= 3);
    c.ws.close();
  });

  test('the token may come as the first message; anything else first closes with 4401', async () => {
    const c = client(srv.url, { header: false });
    await c.opened;
    c.send({ op: 'auth', token: TOKEN });
    const r = await c.next((m) => m.op === 'ready');
    assert.equal(r.subject, 'bootstrap');
    assert.equal((await subscribed(c, { channel: 'notes' })).op, 'subscribed');
    c.ws.close();

    const bad = client(srv.url, { header: false });
    await bad.opened;
    bad.send({ op: 'auth', token: 'wrong' });
    assert.equal((await bad.next((m) => m.op === 'error')).code, 'unauthorized');
    assert.equal((await bad.closeInfo).code, 4401);

    const early = client(srv.url, { header: false });
    await early.opened;
    early.send({ op: 'subscribe', channel: 'notes' });
    assert.equal((await early.next((m) => m.op === 'error')).code, 'unauthorized');
    assert.equal((await early.closeInfo).code, 4401);
  });

  test('concurrent publishers on two loops: every subscriber sees one gap-free order', async () => {
    const a = client(srv.url), b = client(srv.url);
    await Promise.all([ready(a), ready(b)]);
    const base = (await subscribed(a, { channel: 'notes' })).seq;
    await subscribed(b, { channel: 'notes' });
    const writers = 4, each = 100;
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < each; i++) assert.equal((await createNote(srv, `w${w}-${i}`)).status, 201);
    }));
    const ea = await eventsUntil(a, writers * each), eb = await eventsUntil(b, writers * each);
    assertContiguous(ea, base + 1);
    assert.deepEqual(eb.map((e) => e.data.id), ea.map((e) => e.data.id));
    // per writer, commit order is request order
    for (let w = 0; w < writers; w++) {
      const mine = ea.filter((e) => e.data.title.startsWith(`w${w}-`)).map((e) => Number(e.data.title.split('-')[1]));
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y));
    }
    a.ws.close(); b.ws.close();
  });

  test('a client gone while 500 notes are created resumes with since and gets all 500 in order', async () => {
    const c = client(srv.url);
    await ready(c);
    const s = await subscribed(c, { channel: 'notes' });
    await createNote(srv, 'before');
    const last = (await eventsUntil(c, 1)).at(-1);
    c.ws.terminate();
    for (let i = 0; i < 500; i++) await createNote(srv, `missed-${i}`);
    const r = client(srv.url);
    await ready(r);
    const sub = await subscribed(r, { channel: 'notes', since: last.seq, epoch: last.epoch });
    assert.equal(sub.seq, last.seq + 500);
    const ev = await eventsUntil(r, 500);
    assertContiguous(ev, last.seq + 1);
    assert.deepEqual(ev.map((e) => e.data.title), Array.from({ length: 500 }, (_, i) => `missed-${i}`));
    await createNote(srv, 'live');
    const more = await eventsUntil(r, 501);
    assert.equal(more.at(-1).seq, last.seq + 501);
    assert.equal(more.at(-1).data.title, 'live');
    assert.ok(s.seq <= last.seq);
    r.ws.close();
  });

  test('a subscriber of another tenant never sees these events, and a key without the permission is refused', async () => {
    const t = await api(srv.url).post('/api/v1/tenants', {
      slug: 'rt-other', name: 'Other', owner_email: 'owner@rt-other.test', owner_password: 'steady-Koala-71-bramble',
    });
    assert.equal(t.status, 201);
    const login = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'rt-other', email: 'owner@rt-other.test', password: 'steady-Koala-71-bramble' },
    });
    assert.equal(login.status, 200);
    const otherToken = login.json.access_token;
    const other = client(srv.url, { token: otherToken });
    const mine = client(srv.url);
    await Promise.all([ready(other), ready(mine)]);
    await subscribed(other, { channel: 'notes' });
    await subscribed(mine, { channel: 'notes' });
    await createNote(srv, 'tenant A only');
    await createNote(srv, 'tenant B note', otherToken);
    await eventsUntil(mine, 1);
    await eventsUntil(other, 1);
    await sleep(200);
    assert.deepEqual(mine.events().map((e) => e.data.title), ['tenant A only']);
    assert.deepEqual(other.events().map((e) => e.data.title), ['tenant B note']);
    assert.equal(other.events()[0].seq, 1); // B's channel has its own numbering

    const key = await api(srv.url, otherToken).post('/api/v1/api-keys', { name: 'rt', permissions: ['realtime.read'] });
    assert.equal(key.status, 201);
    const k = client(srv.url, { token: key.json.key });
    await ready(k);
    const refused = await subscribed(k, { channel: 'notes' });
    assert.equal(refused.op, 'error');
    assert.equal(refused.code, 'forbidden');
    assert.match(refused.message, /notes\.read/);
    const unknown = await subscribed(k, { channel: 'secrets:all' });
    assert.equal(unknown.code, 'unknown_channel');
    for (const x of [other, mine, k]) x.ws.close();
  });

  // a new tenant and its owner's access token
  async function newOwner(slug) {
    const pw = 'steady-Koala-71-bramble';
    const t = await api(srv.url).post('/api/v1/tenants', {
      slug, name: slug, owner_email: `owner@${slug}.test`, owner_password: pw,
    });
    assert.equal(t.status, 201, t.text);
    const l = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: slug, email: `owner@${slug}.test`, password: pw },
    });
    assert.equal(l.status, 200, l.text);
    return l.json.access_token;
  }

  test('signing out ends the session\'s connections (4401; the event stream ends)', async () => {
    const token = await newOwner('rt-signout');
    const c = client(srv.url, { token });
    await ready(c);
    const sse = http.get(`${srv.url}/api/v1/realtime/sse?channel=notes`, { headers: { authorization: `Bearer ${token}` } });
    const ended = new Promise((resolve) => sse.on('response', (res) => { res.resume(); res.on('end', resolve); res.on('close', resolve); }));
    await sleep(100);
    assert.equal((await api(srv.url, token).post('/api/v1/auth/logout')).status, 204);
    const info = await withTimeout(c.closeInfo, 5000, 'the WebSocket to close');
    assert.equal(info.code, 4401);
    assert.match(info.reason, /signed out/);
    await withTimeout(ended, 5000, 'the event stream to end');
  });

  test('revoking an API key ends the connections it opened (4401)', async () => {
    const token = await newOwner('rt-keys');
    const owner = api(srv.url, token);
    const key = await owner.post('/api/v1/api-keys', { name: 'rt-revoke', permissions: ['realtime.read', 'notes.read'] });
    assert.equal(key.status, 201, key.text);
    const k = client(srv.url, { token: key.json.key });
    await ready(k);
    assert.equal((await subscribed(k, { channel: 'notes' })).op, 'subscribed');
    const other = client(srv.url, { token });
    await ready(other);
    assert.equal((await owner.delete(`/api/v1/api-keys/${key.json.id}`)).status, 204);
    const info = await withTimeout(k.closeInfo, 5000, 'the key\'s WebSocket to close');
    assert.equal(info.code, 4401);
    // the other credential's connection stays
    await sleep(1500);
    assert.equal(other.ws.readyState, 1);
    other.ws.close();
  });

  test('bad messages get an error and the connection stays usable; an oversized frame closes with 1009', async () => {
    const c = client(srv.url);
    await ready(c);
    const bad = ['not json', '[1,2]', '{"op":42}', '{"op":"dance"}', '{"op":"subscribe"}',
      '{"op":"subscribe","channel":"no spaces"}', '{"op":"subscribe","channel":"notes","since":-1}',
      '{"op":"subscribe","channel":"notes","since":"7"}', '{"op":"subscribe","channel":"notes","op":"x"}'];
    for (const m of bad) {
      const from = c.msgs.length;
      c.send(m);
      const e = await c.next((x) => x.op === 'error', 5000, from);
      assert.equal(e.code, 'invalid_message', m);
    }
    const from = c.msgs.length;
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await c.next((x) => x.op === 'error', 5000, from)).code, 'invalid_message');
    c.send({ op: 'ping' });
    await c.next((x) => x.op === 'pong');
    c.send({ op: 'subscribe', channel: 'notes', pad: 'x'.repeat(2000) });
    assert.equal((await c.closeInfo).code, 1009);
  });

  test('presence lists connected users of the tenant only while connected', async () => {
    const c = client(srv.url);
    await ready(c);
    const p = await api(srv.url).get('/api/v1/realtime/presence');
    assert.equal(p.status, 200);
    assert.ok(p.json.items.some((i) => i.subject === 'bootstrap' && i.connections >= 1));
    c.ws.close();
    await c.closeInfo;
    await waitFor(async () => !(await api(srv.url).get('/api/v1/realtime/presence')).json.items.some((i) => i.subject === 'bootstrap'),
      5000, 'presence to drop');
    assertProblem(await api(srv.url, null).get('/api/v1/realtime/presence'), 401);
  });

  test('SIGTERM with connections open: clients get 1001 and the server exits 0', async () => {
    const c = client(srv.url);
    await ready(c);
    await subscribed(c, { channel: 'notes' });
    const sse = http.get(`${srv.url}/api/v1/realtime/sse?channel=notes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const ended = new Promise((resolve) => sse.on('response', (res) => { res.resume(); res.on('end', resolve); res.on('close', resolve); }));
    await sleep(200);
    assert.equal(await srv.stop(), 0); // sanitizer builds exit non-zero on a race or a leak
    assert.equal((await c.closeInfo).code, 1001);
    await withTimeout(ended, 5000, 'the event stream to end');
  });
});

describe('realtime history bounds and slow readers', () => {
  after(stopAllServers);

  test('a gap older than the history gets resync_required, then live events continue', async () => {
    const srv = await startServer({ env: { CAIRN_REALTIME_HISTORY_COUNT: '50' } });
    for (let i = 0; i < 200; i++) await createNote(srv, `old-${i}`);
    const c = client(srv.url);
    await ready(c);
    const from = c.msgs.length;
    c.send({ op: 'subscribe', channel: 'notes', since: 0 });
    const r = await c.next((m) => m.op === 'resync_required', 5000, from);
    assert.equal(r.seq, 200);
    assert.equal(c.events().length, 0, 'no partial history before resync_required');
    // a position of another epoch cannot be continued either
    const again = c.msgs.length;
    c.send({ op: 'subscribe', channel: 'notes', since: 190, epoch: 'ffffffffffffffff' });
    await c.next((m) => m.op === 'resync_required', 5000, again);
    // a recent position is served from the history
    const ok = c.msgs.length;
    c.send({ op: 'subscribe', channel: 'notes', since: 190, epoch: r.epoch });
    await c.next((m) => m.op === 'event' && m.seq === 200, 5000, ok);
    await createNote(srv, 'new');
    const e = await c.next((m) => m.op === 'event' && m.seq === 201);
    assert.equal(e.data.title, 'new');
    c.ws.close();
  });

  test('the history keeps history.count events, trimmed every 64; a smaller count after a restart trims what the larger one left', async () => {
    const kept = async (srv) => (await dbQuery(srv, "SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM realtime_events WHERE channel = 'notes'"))[0];
    const srv = await startServer({ env: { CAIRN_REALTIME_HISTORY_COUNT: '100' } });
    for (let i = 0; i < 300; i++) assert.equal((await createNote(srv, `h-${i}`)).status, 201);
    // trimmed at 128, 192 and 256, each time to the last 100: 157..300
    assert.deepEqual(await kept(srv), { n: 144, lo: 157, hi: 300 });
    const { dataDir } = srv;
    await srv.stop();
    const again = await startServer({ dataDir, env: { CAIRN_REALTIME_HISTORY_COUNT: '10' } });
    for (let i = 0; i < 64; i++) assert.equal((await createNote(again, `h2-${i}`)).status, 201);
    // at 320, to the last 10, and everything older the first count left goes too: 311..364
    assert.deepEqual(await kept(again), { n: 54, lo: 311, hi: 364 });
    for (let i = 0; i < 64; i++) assert.equal((await createNote(again, `h3-${i}`)).status, 201);
    assert.deepEqual(await kept(again), { n: 54, lo: 375, hi: 428 });
  });

  test('history and numbering survive kill -9', async () => {
    const srv = await startServer();
    for (let i = 0; i < 5; i++) await createNote(srv, `kept-${i}`);
    const dataDir = srv.dataDir;
    await srv.kill9();
    const again = await startServer({ dataDir });
    const c = client(again.url);
    await ready(c);
    await subscribed(c, { channel: 'notes', since: 0 });
    const ev = await eventsUntil(c, 5);
    assertContiguous(ev, 1);
    await createNote(again, 'after');
    assert.equal((await eventsUntil(c, 6)).at(-1).seq, 6);
    c.ws.close();
  });

  test('a reader that stops reading is closed with 1008 while a fast reader gets everything', async () => {
    const srv = await startServer({ env: { CAIRN_REALTIME_MAX_QUEUE_BYTES: '1M' } });
    const slow = client(srv.url), fast = client(srv.url);
    await Promise.all([ready(slow), ready(fast)]);
    await subscribed(slow, { channel: 'notes' });
    const base = (await subscribed(fast, { channel: 'notes' })).seq;
    slow.ws._socket.pause(); // stop reading: the server's queue for it grows
    const body = 'x'.repeat(70_000); // frames over 64 KiB: the 8-byte length form
    for (let i = 0; i < 250; i++) assert.equal((await createNote(srv, `big-${i}`, TOKEN, body)).status, 201);
    const ev = await eventsUntil(fast, 250, 20_000);
    assertContiguous(ev, base + 1);
    slow.ws._socket.resume();
    assert.equal((await withTimeout(slow.closeInfo, 10_000, 'the slow reader to be closed')).code, 1008);
    assert.ok(slow.events().length < 250);
    assert.ok(srv.logs().some((l) => /does not keep up/.test(l.msg || '')));
    fast.ws.close();
  });
});

describe('Server-Sent Events', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(stopAllServers);

  /** Opens an event stream and collects its records until stopped. */
  function stream(path, headers = {}) {
    const records = [];
    let res;
    const started = new Promise((resolve, reject) => {
      const req = http.get(srv.url + path, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } }, (r) => {
        res = r;
        let buf = '';
        r.setEncoding('utf8');
        r.on('data', (d) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const rec = {};
            for (const line of buf.slice(0, i).split('\n')) {
              const k = line.indexOf(':');
              if (k > 0) rec[line.slice(0, k)] = line.slice(k + 2);
            }
            buf = buf.slice(i + 2);
            if (rec.data) records.push(rec);
          }
        });
        resolve(r);
      });
      req.on('error', reject);
    });
    return { records, started, stop: () => res && res.destroy() };
  }

  test('streams a channel and resumes from Last-Event-ID', async () => {
    const s = stream('/api/v1/realtime/sse?channel=notes');
    const res = await s.started;
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'], /text\/event-stream/);
    await waitFor(() => s.records.some((r) => r.event === 'subscribed'), 5000, 'subscribed');
    for (let i = 0; i < 3; i++) await createNote(srv, `sse-${i}`);
    await waitFor(() => s.records.filter((r) => r.event === 'note.created').length === 3, 5000, '3 events');
    const evs = s.records.filter((r) => r.event === 'note.created');
    assert.deepEqual(evs.map((r) => JSON.parse(r.data).data.title), ['sse-0', 'sse-1', 'sse-2']);
    const lastId = evs[0].id; // resume after the first
    s.stop();
    const r = stream('/api/v1/realtime/sse?channel=notes', { 'last-event-id': lastId });
    await r.started;
    await waitFor(() => r.records.filter((x) => x.event === 'note.created').length === 2, 5000, 'resumed events');
    assert.deepEqual(r.records.filter((x) => x.event === 'note.created').map((x) => JSON.parse(x.data).data.title), ['sse-1', 'sse-2']);
    r.stop();
  });

  /**
   * A client that behaves like a browser's EventSource (the npm `eventsource` package is not
   * installed): it parses the stream as the HTML standard says, keeps the last `id:` it
   * saw, and reconnects with it as Last-Event-ID. cutAfter(record) returning true drops the
   * connection right after that record, before anything behind it is processed: a network
   * cut at that point.
   */
  function eventSource(path, { token = TOKEN, cutAfter = () => false, lastEventId = '' } = {}) {
    const es = { lastEventId, records: [], cuts: 0, connected: null };
    const open = () => {
      let stopped = false;
      es.connected = new Promise((resolve, reject) => {
        const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
        if (es.lastEventId) headers['last-event-id'] = es.lastEventId;
        const req = http.get(srv.url + path, { headers }, (res) => {
          let buf = '', idBuf = es.lastEventId, event = '', data = [];
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            buf += chunk;
            let nl;
            while (!stopped && (nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line === '') { // dispatch: the last event ID is set even for an empty record
                es.lastEventId = idBuf;
                if (data.length) {
                  const rec = { id: es.lastEventId, event: event || 'message', data: JSON.parse(data.join('\n')) };
                  es.records.push(rec);
                  if (cutAfter(rec)) { stopped = true; es.cuts++; res.destroy(); }
                }
                event = ''; data = [];
                continue;
              }
              if (line.startsWith(':')) continue;
              const k = line.indexOf(':');
              const field = k < 0 ? line : line.slice(0, k);
              const value = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
              if (field === 'id' && !value.includes('\0')) idBuf = value;
              else if (field === 'event') event = value;
              else if (field === 'data') data.push(value);
            }
          });
          resolve(res);
        });
        req.on('error', (e) => { if (!stopped) reject(e); });
      });
      return es.connected;
    };
    es.reconnect = open;
    es.stop = () => es.connected.then((res) => res.destroy());
    es.events = () => es.records.filter((r) => r.data.op === 'event');
    open();
    return es;
  }

  async function ownerToken(slug) {
    const pw = 'steady-Koala-71-bramble';
    assert.equal((await api(srv.url).post('/api/v1/tenants', { slug, name: slug, owner_email: `owner@${slug}.test`, owner_password: pw })).status, 201);
    const l = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant: slug, email: `owner@${slug}.test`, password: pw } });
    return l.json.access_token;
  }

  test('a stream cut before its first event resumes from the subscribed record\'s id: no silent gap, on each of several channels', async () => {
    // a fresh tenant: its notes channel has never had an event (epoch ""), its insights channel neither
    const token = await ownerToken('sse-cut');
    const afterSubscribed = () => { let done = false; return (r) => !done && r.event === 'subscribed' && (done = true); };
    const notes = eventSource('/api/v1/realtime/sse?channel=notes', { token, cutAfter: afterSubscribed() });
    const insights = eventSource('/api/v1/realtime/sse?channel=insights', { token, cutAfter: afterSubscribed() });
    await waitFor(() => notes.cuts === 1 && insights.cuts === 1, 5000, 'both streams subscribed and cut');
    const cutAt = [notes.lastEventId, insights.lastEventId];
    // published while both are disconnected
    const c = api(srv.url, token);
    for (let i = 0; i < 3; i++) assert.equal((await c.post('/api/v1/notes', { title: `while-away-${i}`, body: '' })).status, 201);
    const cust = crypto.randomUUID();
    const ing = await c.post('/api/v1/interactions', {
      customer_id: cust, timestamp: new Date().toISOString(), channel: 'web', event_type: 'page_view',
    });
    assert.equal(ing.status, 201, ing.text);
    await Promise.all([notes.reconnect(), insights.reconnect()]);
    await waitFor(() => notes.events().length >= 3, 5000, 'the notes missed while away');
    assert.deepEqual(notes.events().map((r) => r.data.data.title), ['while-away-0', 'while-away-1', 'while-away-2']);
    assert.deepEqual(notes.events().map((r) => r.data.seq), [1, 2, 3]);
    assert.ok(!notes.records.some((r) => r.event === 'resync_required'));
    await waitFor(() => insights.events().some((r) => r.data.type === 'interaction.created'), 5000, 'the interaction missed while away');
    assert.equal(insights.events()[0].data.seq, 1);
    assert.ok(insights.events().every((r) => r.data.channel === 'insights'), 'each stream has its own channel only');
    // the subscribed record of a channel without events carried its position, seq 0
    assert.deepEqual(cutAt, [':0', ':0']);

    // a resumed stream cut right after its subscribed record, before the events it asked
    // for: the id is the position it resumed from, so the next reconnect asks again
    const lastSeen = notes.events()[0].id; // after while-away-0
    notes.stop();
    const again = eventSource('/api/v1/realtime/sse?channel=notes', { token, cutAfter: afterSubscribed(), lastEventId: lastSeen });
    await waitFor(() => again.cuts === 1, 5000, 'the resumed stream cut after subscribed');
    assert.equal(again.lastEventId, lastSeen);
    await again.reconnect();
    await waitFor(() => again.events().length >= 2, 5000, 'the events after the resumed position');
    assert.deepEqual(again.events().map((r) => r.data.data.title), ['while-away-1', 'while-away-2']);
    for (const x of [again, insights]) await x.stop();
  });

  test('resync_required carries the position it continues from as its id; a cut right after it loses nothing', async () => {
    const es = eventSource('/api/v1/realtime/sse?channel=notes', {
      lastEventId: 'ffffffffffffffff:1', // another numbering: cannot be continued
      cutAfter: (() => { let done = false; return (r) => !done && r.event === 'resync_required' && (done = true); })(),
    });
    await waitFor(() => es.cuts === 1, 5000, 'resync_required');
    const r = es.records.find((x) => x.event === 'resync_required');
    assert.equal(r.id, `${r.data.epoch}:${r.data.seq}`);
    assert.equal(es.lastEventId, r.id);
    await createNote(srv, 'after the resync');
    await es.reconnect();
    await waitFor(() => es.events().length >= 1, 5000, 'the note published while cut off');
    assert.equal(es.events()[0].data.seq, r.data.seq + 1);
    assert.equal(es.events()[0].data.data.title, 'after the resync');
    assert.equal(es.records.filter((x) => x.event === 'resync_required').length, 1);
    await es.stop();
  });

  test('refuses a missing or unknown channel and anonymous callers', async () => {
    const p = assertProblem(await api(srv.url).get('/api/v1/realtime/sse'), 422);
    assert.equal(p.errors[0].field, 'channel');
    assertProblem(await api(srv.url).get('/api/v1/realtime/sse?channel=nothing'), 404);
    assertProblem(await api(srv.url, null).get('/api/v1/realtime/sse?channel=notes'), 401);
  });
});

describe('realtime connection caps', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: {
        CAIRN_REALTIME_MAX_PER_PRINCIPAL: '3', CAIRN_REALTIME_MAX_PER_TENANT: '5',
        CAIRN_REALTIME_MAX_CONNECTIONS: '8', CAIRN_REALTIME_MAX_QUEUE_BYTES: '16K',
      },
    });
  });
  after(stopAllServers);

  const metrics = async () => (await api(srv.url).get('/metrics')).text;
  const metric = (text, series) => {
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
  const refusals = async (cap) => metric(await metrics(), `cairn_realtime_refusals_total{cap="${cap}"}`);

  /** A WebSocket upgrade: { c } when it opened (and is ready), or { status, problem } when refused. */
  function attempt(token) {
    return new Promise((resolve, reject) => {
      const c = client(srv.url, { token });
      c.ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], problem: JSON.parse(body) }));
      });
      c.ws.on('open', () => ready(c).then(() => resolve({ c }), reject));
      c.ws.on('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
    });
  }
  /** An event stream: { res } (stop it with res.destroy()) or { status, problem }. */
  function attemptSse(token) {
    return new Promise((resolve, reject) => {
      const req = http.get(`${srv.url}/api/v1/realtime/sse?channel=notes`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode === 200) return resolve({ res });
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], problem: JSON.parse(body) }));
      });
      req.on('error', reject);
    });
  }
  async function refused(p, cap) {
    const r = await p;
    if (r.c) r.c.ws.close();
    if (r.res) r.res.destroy();
    assert.equal(r.status, 429, `expected a refusal by the ${cap} cap`);
    assert.match(r.type, /application\/problem\+json/);
    assert.equal(r.problem.type, `urn:cairn:problem:realtime-connections-${cap === 'process' ? 'process' : `per-${cap}`}`);
    assert.match(r.problem.detail, new RegExp(`${cap} cap`));
  }
  /** Polls until a connection of token is accepted again: its slot was given back. */
  async function accepted(token, what) {
    let got;
    await waitFor(async () => {
      const r = await attempt(token);
      if (r.c) got = r.c;
      return r.c !== undefined;
    }, 20_000, what, 100);
    return got;
  }
  const closeAll = async (cs) => {
    for (const c of cs) c.ws.close();
    await Promise.all(cs.map((c) => c.closeInfo));
  };
  async function owner(slug) {
    const pw = 'steady-Koala-71-bramble';
    assert.equal((await api(srv.url).post('/api/v1/tenants', { slug, name: slug, owner_email: `owner@${slug}.test`, owner_password: pw })).status, 201);
    return login(slug);
  }
  async function login(slug) {
    const l = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant: slug, email: `owner@${slug}.test`, password: 'steady-Koala-71-bramble' } });
    assert.equal(l.status, 200, l.text);
    return l.json.access_token;
  }

  test('one principal: over realtime.max_per_principal the upgrade and the stream get 429, an auth message 4429; a client close and a dropped socket give the slot back', async () => {
    const open = [];
    for (let i = 0; i < 3; i++) open.push((await attempt(TOKEN)).c);
    assert.ok(open.every(Boolean));
    await refused(attempt(TOKEN), 'principal');
    await refused(attemptSse(TOKEN), 'principal');
    // authenticating by message: only known after the upgrade
    const late = client(srv.url, { header: false });
    await late.opened;
    late.send({ op: 'auth', token: TOKEN });
    const e = await late.next((m) => m.op === 'error');
    assert.equal(e.code, 'too_many_connections');
    const info = await late.closeInfo;
    assert.equal(info.code, 4429);
    assert.match(info.reason, /realtime\.max_per_principal/);
    assert.ok(await refusals('principal') >= 3);

    open[0].ws.close(); // client close
    open[0] = await accepted(TOKEN, 'the slot of a closed connection');
    open[1].ws.terminate(); // the peer vanishes: the server sees an error
    open[1] = await accepted(TOKEN, 'the slot of a dropped connection');
    await refused(attempt(TOKEN), 'principal');
    await closeAll(open);
  });

  test('event streams whose clients vanished give their slots back without waiting for a heartbeat', async () => {
    // h2o reads nothing from a connection while it streams, so only a failed write used to
    // notice the drop: the slots stayed taken for 30-60 s and a reconnecting browser got 429
    const streams = [];
    for (let i = 0; i < 3; i++) {
      const r = await attemptSse(TOKEN);
      assert.ok(r.res, `stream ${i} opened`);
      streams.push(r);
    }
    await refused(attemptSse(TOKEN), 'principal');
    for (const s of streams) s.res.socket.destroy(); // the network is gone: no request ends them
    let back;
    await waitFor(async () => {
      const r = await attemptSse(TOKEN);
      if (r.res) back = r;
      return r.res !== undefined;
    }, 15_000, 'a new stream once the vanished ones were noticed', 200);
    back.res.destroy();
    await waitFor(async () => metric(await metrics(), 'cairn_realtime_connections') === 0, 15_000, 'no connection left');
  });

  test('one tenant: over realtime.max_per_tenant 429; key revocation and sign-out (4401) give the slots back', async () => {
    const token = await owner('caps-tenant');
    const key = await api(srv.url, token).post('/api/v1/api-keys', { name: 'caps', permissions: ['realtime.read', 'notes.read'] });
    assert.equal(key.status, 201, key.text);
    const keyConns = [];
    for (let i = 0; i < 3; i++) keyConns.push((await attempt(key.json.key)).c);
    const userConns = [];
    for (let i = 0; i < 2; i++) userConns.push((await attempt(token)).c);
    assert.ok([...keyConns, ...userConns].every(Boolean));
    await refused(attempt(token), 'tenant'); // the user has 2 of 3, the tenant 5 of 5
    await refused(attemptSse(token), 'tenant');
    assert.ok(await refusals('tenant') >= 2);

    assert.equal((await api(srv.url, token).delete(`/api/v1/api-keys/${key.json.id}`)).status, 204);
    for (const k of keyConns) assert.equal((await withTimeout(k.closeInfo, 5000, 'the revoked key\'s connections')).code, 4401);
    userConns.push(await accepted(token, 'the tenant slots of the revoked key'));

    assert.equal((await api(srv.url, token).post('/api/v1/auth/logout')).status, 204);
    for (const u of userConns) assert.equal((await withTimeout(u.closeInfo, 5000, 'the signed-out session\'s connections')).code, 4401);
    // the same user signs in again: its 3 slots are free
    const again = await login('caps-tenant');
    const back = [];
    for (let i = 0; i < 3; i++) back.push(await accepted(again, 'the slots of the signed-out session'));
    await refused(attempt(again), 'principal');
    await closeAll(back);
  });

  test('a reader closed with 1008 (send queue full) gives its slot back', async () => {
    const slow = (await attempt(TOKEN)).c;
    assert.equal((await subscribed(slow, { channel: 'notes' })).op, 'subscribed');
    const others = [(await attempt(TOKEN)).c, (await attempt(TOKEN)).c];
    await refused(attempt(TOKEN), 'principal');
    slow.ws._socket.pause();
    const before = metric(await metrics(), 'cairn_realtime_slow_closes_total');
    const body = 'y'.repeat(20_000);
    for (let i = 0; i < 400 && metric(await metrics(), 'cairn_realtime_slow_closes_total') === before; i++)
      assert.equal((await createNote(srv, `fill-${i}`, TOKEN, body)).status, 201);
    assert.ok(metric(await metrics(), 'cairn_realtime_slow_closes_total') > before, 'the slow reader was closed');
    slow.ws._socket.resume();
    assert.equal((await withTimeout(slow.closeInfo, 10_000, 'the 1008 close')).code, 1008);
    others.push(await accepted(TOKEN, 'the slot of the slow reader'));
    await closeAll(others);
  });

  test('the process: over realtime.max_connections 429, unauthenticated connections count too, and their auth timeout gives the slots back', async () => {
    await waitFor(async () => metric(await metrics(), 'cairn_realtime_connections') === 0, 10_000, 'no connection left');
    const anon = [];
    for (let i = 0; i < 8; i++) {
      const c = client(srv.url, { header: false });
      await c.opened;
      anon.push(c);
    }
    await refused(attempt(TOKEN), 'process');
    await refused(attemptSse(TOKEN), 'process');
    assert.ok(await refusals('process') >= 2);
    const m = await metrics();
    assert.equal(metric(m, 'cairn_realtime_connections'), 8);
    assert.match(m, /# TYPE cairn_realtime_refusals_total counter/);
    for (const c of anon) assert.equal((await withTimeout(c.closeInfo, 20_000, 'the authentication timeout')).code, 4401);
    const c = await accepted(TOKEN, 'the slots of timed-out connections');
    c.ws.close();
  });

  const held = async () => {
    const m = await metrics();
    return ['principal', 'tenant', 'unauthenticated', 'process'].map((cap) => metric(m, `cairn_realtime_cap_held{cap="${cap}"}`));
  };

  test('unauthenticated WebSockets are capped per client address (realtime.max_unauthenticated_per_ip) and stop counting once authenticated', async () => {
    const own = await startServer({ env: { CAIRN_REALTIME_MAX_UNAUTHENTICATED_PER_IP: '2' } });
    const anon = [];
    for (let i = 0; i < 2; i++) {
      const c = client(own.url, { header: false });
      await c.opened;
      anon.push(c);
    }
    const third = await new Promise((resolve, reject) => {
      const c = client(own.url, { header: false });
      c.ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, problem: JSON.parse(body) }));
      });
      c.ws.on('open', () => resolve({ opened: c }));
      c.ws.on('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
    });
    if (third.opened) third.opened.ws.close();
    assert.equal(third.status, 429, 'a third connection without credentials is refused');
    assert.equal(third.problem.type, 'urn:cairn:problem:realtime-connections-unauthenticated-per-ip');
    assert.match(third.problem.detail, /realtime\.max_unauthenticated_per_ip/);
    const m = (await api(own.url).get('/metrics')).text;
    assert.equal(metric(m, 'cairn_realtime_refusals_total{cap="unauthenticated"}'), 1);
    assert.equal(metric(m, 'cairn_realtime_cap_held{cap="unauthenticated"}'), 2);
    // credentials on the upgrade: not counted as unauthenticated
    const withHeader = client(own.url);
    await ready(withHeader);
    // one authenticates by message: its address may open another
    anon[0].send({ op: 'auth', token: TOKEN });
    await ready(anon[0]);
    const next = client(own.url, { header: false });
    await next.opened;
    for (const c of [...anon, next, withHeader]) c.ws.close();
    await waitFor(async () => metric((await api(own.url).get('/metrics')).text, 'cairn_realtime_cap_held{cap="unauthenticated"}') === 0,
      15_000, 'the unauthenticated counts given back');
    await own.stop();
  });

  test('all connections\' queues together stay under realtime.max_queued_bytes_total: past it the growing one is closed with 1008', async () => {
    // each connection alone could queue 64 MiB; the process budget is 64 KiB
    const own = await startServer({ env: { CAIRN_REALTIME_MAX_QUEUE_BYTES: '64M', CAIRN_REALTIME_MAX_QUEUED_BYTES_TOTAL: '64K' } });
    const m = async () => (await api(own.url).get('/metrics')).text;
    const slow = client(own.url);
    await ready(slow);
    assert.equal((await subscribed(slow, { channel: 'notes' })).op, 'subscribed');
    slow.ws._socket.pause();
    const body = 'z'.repeat(20_000);
    let peak = 0;
    for (let i = 0; i < 1000 && metric(await m(), 'cairn_realtime_slow_closes_total') === 0; i++) {
      assert.equal((await createNote(own, `fill-${i}`, TOKEN, body)).status, 201);
      peak = Math.max(peak, metric(await m(), 'cairn_realtime_queued_bytes'));
    }
    assert.equal(metric(await m(), 'cairn_realtime_slow_closes_total'), 1, 'the slow reader was closed by the process budget');
    assert.ok(peak <= 65536, `queued bytes stayed within the budget (peak ${peak})`);
    assert.ok(own.logs().some((l) => /send queues of all connections are full/.test(l.msg || '')));
    slow.ws._socket.resume();
    assert.equal((await withTimeout(slow.closeInfo, 10_000, 'the 1008 close')).code, 1008);
    await waitFor(async () => metric(await m(), 'cairn_realtime_queued_bytes') === 0, 15_000, 'the queue given back');
    await own.stop();
  });

  test('server shutdown with connections open gives every count back', async () => {
    // closed by the client: every cap's count returns to 0
    await waitFor(async () => (await held()).every((n) => n === 0), 15_000, 'no count held before');
    let w = (await attempt(TOKEN)).c;
    let s = await attemptSse(TOKEN);
    assert.ok(w && s.res);
    await waitFor(async () => String(await held()) === '2,2,0,2', 15_000, 'both counted for the principal, tenant and process');
    w.ws.close();
    s.res.destroy();
    await waitFor(async () => (await held()).every((n) => n === 0), 15_000, 'every count given back');
    // open at shutdown: closed with 1001, and nothing is left counted when the hub is freed
    w = (await attempt(TOKEN)).c;
    s = await attemptSse(TOKEN);
    assert.ok(w && s.res);
    await waitFor(async () => String(await held()) === '2,2,0,2', 15_000, 'both counted again');
    assert.equal(await srv.stop(), 0);
    assert.equal((await w.closeInfo).code, 1001);
    assert.ok(!srv.logs().some((l) => /not given back/.test(l.msg || '')), 'counts left at shutdown');
  });
});
