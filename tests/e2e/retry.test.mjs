// A write that meets a busy database (here: a row another session holds locked beyond
// store.busy_timeout_ms) is run again in a later batch, a bounded number of times, instead
// of failing at once; when the lock never goes, the answer is 503 with Retry-After.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  api, assertProblem, dbQuery, dbSession, onPostgres, pgAdmin, startServer, stopAllServers, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

// The server's statement waiting on the lock, as PostgreSQL shows it: one row per attempt,
// told apart by when the statement started.
async function waitingUpdates(srv) {
  return dbQuery(srv, `SELECT query_start FROM pg_stat_activity WHERE wait_event_type = 'Lock'
    AND query LIKE 'UPDATE notes%' AND datname = current_database()`);
}

const skip = !onPostgres && 'PostgreSQL shows each attempt waiting on the lock (pg_stat_activity); SQLite shows none';

test('a write that times out on a lock is run again, and succeeds once the lock goes', { skip }, async () => {
  const srv = await startServer({ env: { CAIRN_BUSY_TIMEOUT_MS: '1000' } });
  const c = api(srv.url);
  const note = (await c.post('/api/v1/notes', { title: 'locked' })).json;
  const holder = await dbSession(srv);
  try {
    await holder.run(`BEGIN; SELECT id FROM notes WHERE id = '${note.id}' FOR UPDATE`);
    const patched = c.patch(`/api/v1/notes/${note.id}`, { title: 'after the lock' });
    let first = null;
    await waitFor(async () => {
      const rows = await waitingUpdates(srv);
      first ??= rows[0]?.query_start ?? null;
      return rows.some((r) => first !== null && r.query_start !== first);
    }, 15_000, 'a second attempt waiting on the lock');
    await holder.run('COMMIT');
    const r = await patched;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.title, 'after the lock');
  } finally {
    await holder.close();
  }
  assert.equal((await c.get(`/api/v1/notes/${note.id}`)).json.title, 'after the lock');
});

test('a lock that never goes: 503 with Retry-After after the retries, nothing applied', { skip }, async () => {
  const srv = await startServer({ env: { CAIRN_BUSY_TIMEOUT_MS: '200' } });
  const c = api(srv.url);
  const note = (await c.post('/api/v1/notes', { title: 'held' })).json;
  const holder = await dbSession(srv);
  try {
    await holder.run(`BEGIN; SELECT id FROM notes WHERE id = '${note.id}' FOR UPDATE`);
    const r = await c.patch(`/api/v1/notes/${note.id}`, { title: 'never' });
    assertProblem(r, 503);
    assert.equal(r.headers['retry-after'], '1');
  } finally {
    await holder.close();
  }
  assert.equal((await c.get(`/api/v1/notes/${note.id}`)).json.title, 'held');
});

test('a database that goes away: every request is answered 503 at once, nothing is applied later, and the server recovers by itself', { skip: !onPostgres && 'about the PostgreSQL connection' }, async () => {
  const srv = await startServer();
  const c = api(srv.url);
  const kept = (await c.post('/api/v1/notes', { title: 'before' })).json;
  // the server's connections are cut and no new one is let in: as a stopped server looks
  await pgAdmin(srv, `ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false;
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'`);
  try {
    const write = await c.post('/api/v1/notes', { title: 'while away' });
    assertProblem(write, 503);
    assert.equal(write.headers['retry-after'], '1');
    const read = await c.get(`/api/v1/notes/${kept.id}`);
    assertProblem(read, 503);
    assert.equal(read.headers['retry-after'], '1');
    assert.equal((await api(srv.url, null).get('/readyz')).status, 503);
  } finally {
    await pgAdmin(srv, 'ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true');
  }
  // back without a restart: the next statements reconnect
  await waitFor(async () => (await c.post('/api/v1/notes', { title: 'after' })).status === 201, 10_000, 'a write after the database came back');
  const titles = (await c.get('/api/v1/notes?limit=100')).json.items.map((n) => n.title).sort();
  assert.ok(!titles.includes('while away'), `the refused write was not applied later: ${titles}`);
  assert.ok(titles.includes('before') && titles.includes('after'), titles.join());
});
