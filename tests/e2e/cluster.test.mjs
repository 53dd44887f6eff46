// Two cairn nodes on one PostgreSQL database with NATS between them (tests/e2e/lib/
// cluster.mjs): an event committed on node A reaches WebSocket subscribers on node B in
// order; a client that resumes on B gets exactly what it missed on A; signing out on A
// closes the session's socket on B; B's response cache never serves what A changed; a job
// enqueued on A runs once on B; presence counts every node's connections and forgets a
// node that died; while NATS is down a node says so on /readyz, bypasses its
// cache, and catches its subscribers up once NATS is back. On SQLite these are skipped:
// SQLite is one node's file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { natsProxy, nodeReady, startCluster } from './lib/cluster.mjs';
import {
  TOKEN, api, onPostgres, request, sleep, stopAllServers, waitFor, withTimeout,
} from './lib/server.mjs';

const skip = !onPostgres && 'several nodes share a database only on PostgreSQL (make e2e-pg)';

/** A WebSocket client of the realtime hub that keeps every message. */
function rtClient(url, token = TOKEN) {
  const ws = new WebSocket(url.replace('http', 'ws') + '/api/v1/realtime', {
    headers: { authorization: `Bearer ${token}` },
  });
  const msgs = [];
  const c = {
    ws, msgs,
    opened: new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }),
    send: (o) => ws.send(JSON.stringify(o)),
    events: (channel = 'notes') => msgs.filter((m) => m.op === 'event' && m.channel === channel),
    async next(pred, ms = 5000) {
      await waitFor(() => msgs.some(pred), ms, 'a realtime message');
      return msgs.find(pred);
    },
    closeInfo: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
  };
  ws.on('message', (data) => msgs.push(JSON.parse(data.toString())));
  return c;
}

async function subscribe(c, sub) {
  await c.opened;
  await c.next((m) => m.op === 'ready');
  c.send({ op: 'subscribe', ...sub });
  return c.next((m) => (m.op === 'subscribed' || m.op === 'error') && m.channel === sub.channel);
}

const createNote = (node, title) => api(node.url).post('/api/v1/notes', { title, body: '' });

/** n notes on node, k at a time: concurrent requests commit on both of its loops at once. */
async function createNotes(node, n, prefix, k = 8) {
  for (let i = 0; i < n; i += k) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + k); j++) batch.push(createNote(node, `${prefix}-${j}`));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 201, r.text);
  }
}

async function eventsUntil(c, n, ms = 15_000) {
  await waitFor(() => c.events().length >= n, ms, `${n} events (have ${c.events().length})`);
  return c.events();
}

function assertContiguous(events, first) {
  events.forEach((e, i) => assert.equal(e.seq, first + i, `event ${i} has seq ${e.seq}, not ${first + i}`));
}

describe('two nodes on one PostgreSQL database and one NATS', { skip }, () => {
  let A, B, nats, cl;
  before(async () => {
    // a long cache TTL: only an invalidation can make B's cached list fresh; node A runs no
    // jobs, so what A enqueues runs on B; a heartbeat of 1 s makes presence's window 2 s
    cl = await startCluster({
      n: 2, env: { CAIRN_CACHE_TTL_MS: '600000', CAIRN_REALTIME_HEARTBEAT_S: '1' },
      envOf: (i) => (i === 0 ? { CAIRN_JOBS_WORKERS: '0' } : {}),
    });
    [A, B] = cl.nodes;
    nats = cl.nats;
  });
  after(stopAllServers);

  test('events committed on A reach a subscriber on B, in seq order, each once', async () => {
    const b = rtClient(B.url);
    const s = await subscribe(b, { channel: 'notes' });
    assert.equal(s.op, 'subscribed');
    await createNotes(A, 40, 'live');
    const evs = await eventsUntil(b, 40);
    assertContiguous(evs, s.seq + 1);
    await sleep(300);
    assert.equal(b.events().length, 40, 'nothing twice');
    b.ws.close();
    const m = (await request(`${B.url}/metrics`)).text;
    assert.match(m, /^cairn_bus_connected 1$/m);
    assert.ok(Number(/^cairn_bus_received_total (\d+)$/m.exec(m)[1]) >= 40, 'B counted what it received');
    assert.match(m, /^cairn_bus_dropped_total 0$/m);
  });

  test('a client that resumes on B after events published on A gets them all, none twice', async () => {
    const a = rtClient(A.url);
    await subscribe(a, { channel: 'notes' });
    await createNotes(A, 5, 'before');
    const seen = (await eventsUntil(a, 5)).at(-1);
    a.ws.terminate();
    await createNotes(A, 60, 'missed');
    const b = rtClient(B.url);
    const s = await subscribe(b, { channel: 'notes', since: seen.seq, epoch: seen.epoch });
    assert.equal(s.op, 'subscribed', JSON.stringify(s));
    assert.ok(s.seq >= seen.seq + 60, `B's position ${s.seq} includes what A committed`);
    await createNotes(A, 5, 'after');
    const evs = await eventsUntil(b, 65);
    assertContiguous(evs, seen.seq + 1);
    assert.ok(!b.msgs.some((m) => m.op === 'resync_required'), 'no resync_required');
    await sleep(300);
    assert.equal(b.events().length, 65, 'nothing twice');
    b.ws.close();
  });

  test('signing out on A closes the session\'s WebSocket on B', async () => {
    const pw = 'steady-Koala-71-bramble';
    const t = await api(A.url).post('/api/v1/tenants', {
      slug: 'cl-signout', name: 'cl-signout', owner_email: 'owner@cl-signout.test', owner_password: pw,
    });
    assert.equal(t.status, 201, t.text);
    const l = await request(`${A.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'cl-signout', email: 'owner@cl-signout.test', password: pw },
    });
    assert.equal(l.status, 200, l.text);
    const token = l.json.access_token;
    const b = rtClient(B.url, token);
    await b.opened;
    await b.next((m) => m.op === 'ready');
    assert.equal((await api(A.url, token).post('/api/v1/auth/logout')).status, 204);
    const info = await withTimeout(b.closeInfo, 10_000, 'the WebSocket on B to close');
    assert.equal(info.code, 4401);
    assert.match(info.reason, /signed out/);
  });

  test('a note changed on A is not served stale from B\'s cache', async () => {
    const { json: note } = await createNote(A, 'first title');
    const titleOnB = async () => {
      const r = await api(B.url).get('/api/v1/notes?limit=200');
      assert.equal(r.status, 200, r.text);
      return r.json.items.find((n) => n.id === note.id)?.title;
    };
    await waitFor(async () => (await titleOnB()) === 'first title', 5000, 'B to list the note');
    await titleOnB(); // cached now
    const upd = await api(A.url).patch(`/api/v1/notes/${note.id}`, { title: 'second title' });
    assert.equal(upd.status, 200, upd.text);
    await waitFor(async () => (await titleOnB()) === 'second title', 10_000,
      'B to list the new title (its cache keeps entries for 10 minutes)');
  });

  test('a job enqueued on A runs once, on B, promptly', async () => {
    const notes = [];
    for (let i = 0; i < 6; i++) notes.push((await createNote(A, `job ${i} has four words`)).json);
    const jobs = [];
    for (const n of notes) {
      const r = await api(A.url).post(`/api/v1/notes/${n.id}/analyse`);
      assert.equal(r.status, 202, r.text);
      jobs.push(r.json.job_id);
    }
    await waitFor(async () => {
      for (const n of notes)
        if ((await api(A.url).get(`/api/v1/notes/${n.id}`)).json.analyses !== 1) return false;
      return true;
    }, 10_000, 'every analysis');
    for (const id of jobs) {
      const j = await api(A.url).get(`/api/v1/jobs/${id}`);
      assert.equal(j.json.state, 'done');
      assert.equal(j.json.attempts, 1);
    }
    await sleep(300);
    for (const n of notes)
      assert.equal((await api(B.url).get(`/api/v1/notes/${n.id}`)).json.analyses, 1, 'run once');
  });

  test('presence counts a user\'s connections on every node, and forgets a node that died', async () => {
    const C = await cl.addNode();
    const onA = rtClient(A.url);
    const onC = rtClient(C.url);
    await Promise.all([onA.opened, onC.opened]);
    await Promise.all([onA.next((m) => m.op === 'ready'), onC.next((m) => m.op === 'ready')]);
    const subject = onA.msgs.find((m) => m.op === 'ready').subject;
    const connections = async () => {
      const r = await api(B.url).get('/api/v1/realtime/presence');
      assert.equal(r.status, 200, r.text);
      return r.json.items.find((i) => i.subject === subject)?.connections ?? 0;
    };
    await waitFor(async () => (await connections()) === 2, 10_000, 'B to count the connections on A and C');
    await C.kill9();
    await waitFor(async () => (await connections()) === 1, 15_000, 'B to forget the dead node\'s connection');
    onA.ws.close();
    await waitFor(async () => (await connections()) === 0, 10_000, 'B to see the last connection close');
  });

  test('without NATS a node is not ready and bypasses its cache; once NATS is back its subscribers catch up from the history', async () => {
    // D writes during the outage and dies before NATS is back: what it published is lost
    // with it, so B can only learn those events from the database
    const D = await cl.addNode();
    const b = rtClient(B.url);
    const s = await subscribe(b, { channel: 'notes' });
    const { json: note } = await createNote(D, 'before the outage');
    await eventsUntil(b, 1);
    const titleOnB = async () => (await api(B.url).get('/api/v1/notes?limit=200'))
      .json.items.find((n) => n.id === note.id)?.title;
    assert.equal(await titleOnB(), 'before the outage');
    await titleOnB(); // cached
    nats.halt();
    try {
      for (const node of [B, D])
        await waitFor(async () => {
          const r = await request(`${node.url}/readyz`);
          return r.status === 503 && /NATS/.test(r.json?.detail ?? '');
        }, 15_000, `${node.url}/readyz to report NATS`);
      const upd = await api(D.url).patch(`/api/v1/notes/${note.id}`, { title: 'during the outage' });
      assert.equal(upd.status, 200, upd.text);
      assert.equal(await titleOnB(), 'during the outage', 'B did not answer from its cache');
      await createNotes(D, 10, 'outage');
      await D.kill9();
    } finally {
      nats.restart();
    }
    await nodeReady(A);
    await nodeReady(B);
    // no new event comes to reveal a gap: only the catch-up after the reconnect brings these
    const evs = await eventsUntil(b, 12); // the note, its update, ten more
    assertContiguous(evs, s.seq + 1);
    await createNote(A, 'after the outage');
    await eventsUntil(b, 13);
    assertContiguous(b.events(), s.seq + 1);
    b.ws.close();
  });

  test('an event a node published into a connection that broke reaches the others once it reconnects', async () => {
    // only C's connection breaks: B stays connected, so only C's word after its reconnect
    // can make B read the history, and no later event comes to reveal the gap
    const proxy = await natsProxy(nats.url);
    try {
      const C = await cl.addNode({ CAIRN_NATS_URL: proxy.url });
      const b = rtClient(B.url);
      const s = await subscribe(b, { channel: 'notes' });
      proxy.drop = true;
      assert.equal((await createNote(C, 'lost on the way')).status, 201);
      await sleep(500); // C's client has written the event into the connection by now
      assert.equal(b.events().length, 0, 'the proxy lost the event (else this tests nothing)');
      proxy.drop = false;
      proxy.cut();
      const evs = await eventsUntil(b, 1);
      assert.equal(evs[0].data.title, 'lost on the way');
      assert.equal(evs[0].seq, s.seq + 1);
      b.ws.close();
      await C.kill9();
    } finally {
      proxy.close();
    }
  });

  test('events that left the history before B could read them: resync_required, never a silent gap', async () => {
    // E keeps 10 events of history (trimmed every 64): what it writes while NATS is down
    // and then dies with is partly gone when B catches up
    const E = await cl.addNode({ CAIRN_REALTIME_HISTORY_COUNT: '10' });
    const b = rtClient(B.url);
    const s = await subscribe(b, { channel: 'notes' });
    nats.halt();
    try {
      await waitFor(async () => (await request(`${E.url}/readyz`)).status === 503, 15_000,
        'E to lose NATS');
      await createNotes(E, 150, 'pruned');
      await E.kill9();
    } finally {
      nats.restart();
    }
    await nodeReady(B);
    const r = await b.next((m) => m.op === 'resync_required', 15_000);
    assert.equal(r.channel, 'notes');
    assert.ok(r.seq > s.seq && r.seq < s.seq + 150, `resync_required at ${r.seq}`);
    const evs = await eventsUntil(b, s.seq + 150 - r.seq);
    assertContiguous(evs, r.seq + 1);
    assert.equal(evs.at(-1).seq, s.seq + 150);
    b.ws.close();
  });
});
