// Durability: every acknowledged (201) write survives a graceful shutdown under load and a
// kill -9; graceful shutdown drains in-flight requests and exits 0 promptly.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  TOKEN, api, closeClients, connect, dbValue, onPostgres, rawExchange, request, sleep, startServer,
  stopAllServers, withTimeout,
} from './lib/server.mjs';

after(stopAllServers);

const TOTAL = 2000;
const CONCURRENCY = 32;

/**
 * Fires `total` POSTs with `concurrency` workers. onAck(n) is called after every 201.
 * Resolves to {acked: Map id -> title, statuses: Map status -> count, networkErrors}.
 */
async function writeLoad(url, { total = TOTAL, concurrency = CONCURRENCY, onAck = () => {} } = {}) {
  const acked = new Map();
  const statuses = new Map();
  let next = 0;
  let networkErrors = 0;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const title = `load-${i}`;
      try {
        const res = await request(`${url}/api/v1/notes`, { method: 'POST', body: { title, body: `n${i}` }, headers: auth, timeoutMs: 15_000 });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) {
          assert.equal(res.json.title, title);
          acked.set(res.json.id, title);
          onAck(acked.size);
        }
      } catch {
        networkErrors++; // refused or reset once the server is going away: not acknowledged
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acked, statuses, networkErrors };
}

/** GETs every acknowledged note (32 at a time) and returns the ids that are missing or wrong. */
async function missingNotes(url, acked) {
  const c = api(url);
  const ids = [...acked.keys()];
  const missing = [];
  for (let i = 0; i < ids.length; i += 32) {
    const batch = ids.slice(i, i + 32);
    const res = await Promise.all(batch.map((id) => c.get(`/api/v1/notes/${id}`)));
    res.forEach((r, j) => {
      if (r.status !== 200 || r.json.title !== acked.get(batch[j])) missing.push(`${batch[j]} (${r.status})`);
    });
  }
  return missing;
}

/** Every id listed by paging through the collection. */
async function listedIds(url) {
  const c = api(url);
  const ids = new Set();
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const res = await c.get(`/api/v1/notes?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200);
    for (const n of res.json.items) ids.add(n.id);
    cursor = res.json.next_cursor;
    if (!cursor) return ids;
  }
  throw new Error('pagination did not end');
}

/** SQLite's check of the database file; a PostgreSQL server's files are its own concern. */
async function integrityCheck(dataDir) {
  if (onPostgres) return;
  assert.equal(await dbValue(dataDir, 'PRAGMA integrity_check'), 'ok');
}

describe('graceful shutdown under load', () => {
  test('SIGTERM midway: exit 0 and every 201 survives a restart', async (t) => {
    const s = await startServer();
    let stopping = null;
    let ackedAtSignal = 0;
    const load = await writeLoad(s.url, {
      onAck: (n) => {
        if (n === TOTAL / 2 && !stopping) {
          ackedAtSignal = n;
          stopping = s.stop('SIGTERM', 20_000, { keepClients: true });
        }
      },
    });
    assert.ok(stopping, `the load reached ${TOTAL / 2} acknowledgements (got ${load.acked.size})`);
    t.diagnostic(`acked ${load.acked.size} of ${TOTAL} (${ackedAtSignal} before SIGTERM), ${load.networkErrors} network errors`);
    closeClients(s.url); // the load is over: its idle pooled connections go away
    const code = await withTimeout(stopping, 20_000, 'graceful exit');
    assert.equal(code, 0);
    assert.deepEqual([...load.statuses.keys()], [201], `only 201s were answered: ${JSON.stringify([...load.statuses])}`);
    assert.ok(load.acked.size >= ackedAtSignal && load.acked.size < TOTAL, `acked ${load.acked.size} of ${TOTAL}`);
    assert.ok(s.logs().some((l) => /SIGTERM received/.test(l.msg ?? '')));
    assert.ok(s.logs().some((l) => l.msg === 'shutdown complete'), 'drained before the deadline');

    const s2 = await startServer({ dataDir: s.dataDir });
    assert.deepEqual(await missingNotes(s2.url, load.acked), []);
    const listed = await listedIds(s2.url);
    for (const id of load.acked.keys()) assert.ok(listed.has(id), `${id} is listed`);
    assert.equal(await s2.stop(), 0);
    await integrityCheck(s.dataDir);
  });
});

describe('crash', () => {
  test('kill -9 during writes: every 201 survives a restart', async (t) => {
    const s = await startServer();
    let killing = null;
    const load = await writeLoad(s.url, {
      onAck: (n) => {
        if (n === TOTAL / 2 && !killing) killing = s.kill9();
      },
    });
    assert.ok(killing, `the load reached ${TOTAL / 2} acknowledgements (got ${load.acked.size})`);
    assert.equal(await killing, 128 + 9);
    closeClients(s.url);
    t.diagnostic(`acked ${load.acked.size} of ${TOTAL}, ${load.networkErrors} network errors`);
    assert.ok(load.acked.size >= TOTAL / 2 && load.acked.size < TOTAL, `acked ${load.acked.size}`);
    assert.ok(load.networkErrors > 0, 'some requests failed after the kill');

    const s2 = await startServer({ dataDir: s.dataDir });
    assert.equal((await api(s2.url).get('/readyz')).json.status, 'ready');
    assert.deepEqual(await missingNotes(s2.url, load.acked), []);
    const listed = await listedIds(s2.url);
    assert.ok(listed.size >= load.acked.size, `${listed.size} listed, ${load.acked.size} acked`);
    // the restarted server still writes
    assert.equal((await api(s2.url).post('/api/v1/notes', { title: 'after crash' })).status, 201);
    assert.equal(await s2.stop(), 0);
    await integrityCheck(s.dataDir);
  });
});

describe('shutdown behaviour', () => {
  test('a request in flight at SIGTERM is completed with Connection: close, then the server exits 0', async () => {
    const s = await startServer();
    const body = JSON.stringify({ title: 'in flight' });
    const sock = await connect(s.port);
    sock.write(`POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await sleep(100);
    const stopping = s.stop('SIGTERM', 15_000);
    await sleep(300);
    assert.equal(s.proc.exitCode, null, 'still draining');
    const { responses } = await rawExchange(s.port, body.slice(5), { socket: sock, timeoutMs: 5000 });
    sock.destroy();
    assert.equal(responses[0].status, 201);
    assert.equal(responses[0].headers.connection?.toLowerCase(), 'close', 'the drained connection is closed');
    const id = JSON.parse(responses[0].body).id;
    assert.equal(await stopping, 0);

    const s2 = await startServer({ dataDir: s.dataDir });
    assert.equal((await api(s2.url).get(`/api/v1/notes/${id}`)).status, 200);
    assert.equal(await s2.stop(), 0);
  });

  test('after SIGTERM no new connection is accepted', async () => {
    const s = await startServer();
    const sock = await connect(s.port); // holds the drain open
    sock.write('POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n');
    const stopping = s.stop('SIGTERM', 15_000);
    await sleep(300);
    await assert.rejects(request(`${s.url}/healthz`, { keepAlive: false, timeoutMs: 2000 }), /ECONNREFUSED|ECONNRESET|socket hang up/);
    sock.destroy();
    assert.equal(await stopping, 0);
  });

  test('SIGINT also drains and exits 0', async () => {
    const s = await startServer();
    assert.equal((await api(s.url).get('/healthz')).status, 200);
    assert.equal(await s.stop('SIGINT'), 0);
    assert.ok(s.logs().some((l) => /SIGINT received/.test(l.msg ?? '')));
  });

  test('an idle keep-alive connection does not hold up SIGTERM', async () => {
    // a client (a proxy, a browser) keeps an idle connection open after its request
    const s = await startServer({ env: { CAIRN_SHUTDOWN_TIMEOUT_S: '5' } });
    const { responses, socket } = await rawExchange(s.port, 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.equal(responses[0].status, 200);
    const t0 = Date.now();
    const code = await s.stop('SIGTERM', 15_000, { keepClients: true });
    const ms = Date.now() - t0;
    socket.destroy();
    assert.equal(code, 0);
    assert.ok(ms < 2000, `exited ${ms} ms after SIGTERM with one idle keep-alive connection open`);
  });
});
