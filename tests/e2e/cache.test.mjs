// The response cache as clients see it, on the notes list: hits until a change of the
// tenant's notes, never across tenants, and entries expire after cache.ttl_ms.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, request, sleep, startServer, stopAllServers } from './lib/server.mjs';

describe('response cache (notes list)', () => {
  let srv, op, other;
  before(async () => {
    srv = await startServer({ env: { CAIRN_CACHE_TTL_MS: '400', CAIRN_THREADS: '2' } });
    op = api(srv.url);
    const t = await op.post('/api/v1/tenants', {
      slug: 'cache-b', name: 'B', owner_email: 'owner@cache-b.test', owner_password: 'steady-Koala-71-bramble',
    });
    assert.equal(t.status, 201);
    const l = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'cache-b', email: 'owner@cache-b.test', password: 'steady-Koala-71-bramble' },
    });
    other = api(srv.url, l.json.access_token);
  });
  after(stopAllServers);

  test('a repeated list is a hit; a write invalidates it at once, on every loop', async () => {
    await op.post('/api/v1/notes', { title: 'one' });
    const first = await op.get('/api/v1/notes?limit=5');
    assert.equal(first.headers['x-cache'], 'miss');
    const second = await op.get('/api/v1/notes?limit=5');
    assert.equal(second.headers['x-cache'], 'hit');
    assert.deepEqual(second.json, first.json);
    // another query is another entry
    assert.equal((await op.get('/api/v1/notes?limit=6')).headers['x-cache'], 'miss');
    for (let i = 0; i < 20; i++) { // each write is visible to the very next read, whichever loop serves it
      const n = (await op.post('/api/v1/notes', { title: `w${i}` })).json;
      const after = await request(`${srv.url}/api/v1/notes?limit=5`, { headers: { authorization: 'Bearer e2e-test-token' }, keepAlive: false });
      assert.equal(after.json.items[0].id, n.id);
    }
    const patched = (await op.get('/api/v1/notes?limit=5')).json.items[0];
    await op.patch(`/api/v1/notes/${patched.id}`, { title: 'changed' });
    const again = await op.get('/api/v1/notes?limit=5');
    assert.equal(again.headers['x-cache'], 'miss');
    assert.equal(again.json.items[0].title, 'changed');
  });

  test('the same request of another tenant never gets this tenant\'s entry', async () => {
    await op.get('/api/v1/notes?limit=7');
    assert.equal((await op.get('/api/v1/notes?limit=7')).headers['x-cache'], 'hit');
    const theirs = await other.get('/api/v1/notes?limit=7');
    assert.equal(theirs.headers['x-cache'], 'miss');
    assert.deepEqual(theirs.json.items, []);
  });

  test('entries expire after cache.ttl_ms', async () => {
    await op.get('/api/v1/notes?limit=8');
    assert.equal((await op.get('/api/v1/notes?limit=8')).headers['x-cache'], 'hit');
    await sleep(600);
    assert.equal((await op.get('/api/v1/notes?limit=8')).headers['x-cache'], 'miss');
    const m = (await op.get('/metrics')).text;
    assert.match(m, /cairn_cache_hits_total [1-9]/);
    assert.match(m, /cairn_cache_expired_total [1-9]/);
  });
});
