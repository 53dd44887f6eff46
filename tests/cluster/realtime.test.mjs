// Realtime through the cluster. Without a bus (scripts/cluster --no-nats): a WebSocket
// opened through HAProxy's one URL reaches a node and gets that node's events. Through NATS
// (the default): events committed on one node reach subscribers on the others in seq order; a client resumes on another node with exactly what it missed;
// signing out closes the session's sockets on every node; a NATS restart loses nothing
// committed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  TOKEN, api, request, startCluster, waitFor, withTimeout,
} from './lib/cluster.mjs';

/** A WebSocket client (docs/realtime.md) that keeps every message. */
function client(url, { token = TOKEN } = {}) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/realtime`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const msgs = [];
  const c = {
    ws, msgs, node: null,
    opened: new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }),
    send: (o) => ws.send(JSON.stringify(o)),
    events: (channel = 'notes') => msgs.filter((m) => m.op === 'event' && m.channel === channel),
    next: (pred, ms = 5000, from = 0) => waitFor(() => msgs.slice(from).find(pred), ms, 'a realtime message'),
    closeInfo: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
  };
  ws.on('upgrade', (res) => { c.node = res.headers['x-cairn-node'] ?? null; });
  ws.on('message', (data) => msgs.push(JSON.parse(data.toString())));
  return c;
}

async function subscribe(c, sub) {
  await c.opened;
  await c.next((m) => m.op === 'ready');
  const from = c.msgs.length;
  c.send({ op: 'subscribe', ...sub });
  const r = await c.next((m) => (m.op === 'subscribed' || m.op === 'error') && m.channel === sub.channel, 5000, from);
  assert.equal(r.op, 'subscribed', JSON.stringify(r));
  return r;
}

const events = (c, n, what) => waitFor(() => c.events().length >= n && c.events(), 20_000, `${n} events ${what} (have ${c.events().length})`);

function assertInOrder(evs, titles) {
  assert.deepEqual(evs.map((e) => e.data.title), titles);
  evs.forEach((e, i) => i && assert.equal(e.seq, evs[i - 1].seq + 1, `event ${i}: seq ${e.seq} after ${evs[i - 1].seq}`));
}

describe('without a bus', () => {
  let c;
  before(async () => { c = await startCluster({ nats: false }); });
  after(() => c?.stop());

  test('a WebSocket through HAProxy reaches a node and gets the events committed there', async () => {
    const ws = client(c.url);
    await subscribe(ws, { channel: 'notes' });
    assert.match(ws.node ?? '', /^node[1-3]$/, 'HAProxy named the node behind the socket');
    const node = c.node(Number(ws.node.slice(4)));
    const k = api(node.url);
    for (let i = 0; i < 20; i++) assert.equal((await k.post('/api/v1/notes', { title: `ws-${i}`, body: '' })).status, 201);
    assertInOrder(await events(ws, 20, 'through HAProxy'), Array.from({ length: 20 }, (_, i) => `ws-${i}`));
    ws.ws.close();
  });
});



describe('through NATS', () => {
  let c;
  before(async () => { c = await startCluster(); });
  after(() => c?.stop());

  test('a writer on node 1 and subscribers on nodes 2 and 3 see every event, in seq order', async () => {
    const subs = [client(c.node(2).url), client(c.node(3).url)];
    for (const s of subs) await subscribe(s, { channel: 'notes' });
    const k = api(c.node(1).url);
    const titles = Array.from({ length: 200 }, (_, i) => `fan-${i}`);
    for (const t of titles) assert.equal((await k.post('/api/v1/notes', { title: t, body: '' })).status, 201);
    for (const s of subs) assertInOrder((await events(s, 200, 'on another node')).slice(0, 200), titles);
    for (const s of subs) s.ws.close();
  });

  test('a client of node 2 that loses its socket while 300 events are published resumes through node 3 with all 300, in order, none twice', async () => {
    const b = client(c.node(2).url);
    await subscribe(b, { channel: 'notes' });
    const k = api(c.node(1).url);
    assert.equal((await k.post('/api/v1/notes', { title: 'before', body: '' })).status, 201);
    const last = (await events(b, 1, 'before the cut')).at(-1);
    b.ws.terminate();
    const titles = Array.from({ length: 300 }, (_, i) => `missed-${i}`);
    for (const t of titles) assert.equal((await k.post('/api/v1/notes', { title: t, body: '' })).status, 201);
    const r = client(c.node(3).url);
    const sub = await subscribe(r, { channel: 'notes', since: last.seq, epoch: last.epoch });
    assert.equal(sub.seq, last.seq + 300);
    const evs = await events(r, 300, 'resumed on node 3');
    assert.equal(evs[0].seq, last.seq + 1);
    assertInOrder(evs, titles);
    r.ws.close();
  });

  test('signing out on node 1 closes that session\'s sockets on node 3 (pushed, not polled)', async (t) => {
    const pw = 'steady-Koala-71-bramble';
    assert.equal((await api(c.url).post('/api/v1/tenants', { slug: 'bus-out', name: 'bus-out', owner_email: 'o@bus-out.test', owner_password: pw })).status, 201);
    const login = await request(`${c.node(1).url}/api/v1/auth/login`, { method: 'POST', body: { tenant: 'bus-out', email: 'o@bus-out.test', password: pw } });
    assert.equal(login.status, 200, login.text);
    const token = login.json.access_token;
    const ws = client(c.node(3).url, { token });
    await subscribe(ws, { channel: 'notes' });
    const t0 = Date.now();
    assert.equal((await api(c.node(1).url, token).post('/api/v1/auth/logout')).status, 204);
    // nothing else reaches node 3 meanwhile: only a push over the bus can close it
    const info = await withTimeout(ws.closeInfo, 5000, 'the socket on node 3 to close');
    t.diagnostic(`closed ${Date.now() - t0} ms after the sign-out answered (the issue asks for < 1 s)`);
    assert.equal(info.code, 4401);
  });

  test('a NATS restart: realtime resumes on every node, and nothing committed is lost', async () => {
    const subs = [client(c.node(2).url), client(c.node(3).url)];
    for (const s of subs) await subscribe(s, { channel: 'notes' });
    const k = api(c.url);
    const restart = new Promise((resolve, reject) => {
      const p = spawn('scripts/cluster', ['nats-restart', c.dir], { cwd: new URL('../..', import.meta.url).pathname, stdio: 'ignore' });
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nats-restart exited ${code}`))));
    });
    const acked = [];
    for (let i = 0; i < 200; i++) {
      const r = await k.post('/api/v1/notes', { title: `nr-${i}`, body: '' });
      if (r.status === 201) acked.push(r.json.id);
    }
    await restart;
    const after = await k.post('/api/v1/notes', { title: 'after the restart', body: '' });
    assert.equal(after.status, 201);
    // every acknowledged write is stored; each subscriber either has every event up to the
    // last one in order, or was told to resync (and then gets the live ones)
    const stored = new Set((await c.query("SELECT id FROM notes WHERE title LIKE 'nr-%'")).map((r) => r.id));
    for (const id of acked) assert.ok(stored.has(id), `acknowledged ${id} is stored`);
    for (const s of subs) {
      await waitFor(() => s.events().some((e) => e.data.title === 'after the restart') || s.msgs.some((m) => m.op === 'resync_required'),
        20_000, 'realtime to resume after the NATS restart');
      if (!s.msgs.some((m) => m.op === 'resync_required')) {
        const evs = s.events();
        evs.forEach((e, i) => i && assert.equal(e.seq, evs[i - 1].seq + 1));
      }
      s.ws.close();
    }
  });
});
