// Token-bucket rate limits: per client IP, per user or key, and the strict sign-in limit.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { api, assertProblem, request, runCli, startServer, stopAllServers, tempDir } from './lib/server.mjs';

after(stopAllServers);

function assertLimited(res, limit) {
  const p = assertProblem(res, 429);
  assert.equal(res.headers['ratelimit-limit'], String(limit));
  assert.equal(res.headers['ratelimit-remaining'], '0');
  assert.ok(Number(res.headers['ratelimit-reset']) >= 1);
  assert.ok(Number(res.headers['retry-after']) >= 1);
  return p;
}

describe('rate limits', () => {
  test('per user: the request after the burst is 429 with RateLimit headers', async () => {
    const s = await startServer({ env: { CAIRN_RATE_USER_PER_MIN: '5' } });
    const c = api(s.url);
    for (let i = 0; i < 5; i++) assert.equal((await c.get('/api/v1/notes')).status, 200, `request ${i + 1}`);
    const p = assertLimited(await c.get('/api/v1/notes'), 5);
    assert.match(p.detail, /user limit: 5 per minute/);
    // public routes are not counted against a user
    assert.equal((await api(s.url, null).get('/healthz')).status, 200);
  });

  test('per API key: long bucket keys are counted like short ones', async () => {
    const data = tempDir('cairn-e2e-rl-');
    assert.equal((await runCli(['tenant', 'create', '--slug', 'rl', '--name', 'RL', '--data', data])).code, 0);
    assert.equal((await runCli(['user', 'create', '--tenant', 'rl', '--email', 'r@rl.example', '--role', 'owner',
      '--password-stdin', '--data', data], { input: 'vivid-Otter-42-lantern\n' })).code, 0);
    const s = await startServer({ dataDir: data, env: { CAIRN_RATE_USER_PER_MIN: '3' } });
    const login = await request(`${s.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'rl', email: 'r@rl.example', password: 'vivid-Otter-42-lantern' },
    });
    const made = await api(s.url, login.json.access_token).post('/api/v1/api-keys', { name: 'rl', permissions: ['notes.read'] });
    assert.equal(made.status, 201, made.text);
    const k = api(s.url, made.json.key);
    for (let i = 0; i < 3; i++) assert.equal((await k.get('/api/v1/notes')).status, 200, `request ${i + 1}`);
    assertLimited(await k.get('/api/v1/notes'), 3);
  });

  test('per IP: every request counts, public ones included', async () => {
    const s = await startServer({ env: { CAIRN_RATE_IP_PER_MIN: '4' } });
    const anon = api(s.url, null);
    for (let i = 0; i < 4; i++) assert.equal((await anon.get('/healthz')).status, 200);
    assertLimited(await anon.get('/healthz'), 4);
    assertLimited(await api(s.url).get('/api/v1/notes'), 4);
  });

  test('sign-in endpoints have their own, stricter per-IP limit', async () => {
    const s = await startServer({ env: { CAIRN_RATE_AUTH_PER_MIN: '2' } });
    const anon = api(s.url, null);
    const body = { tenant: 'none', email: 'x@y.example', password: 'whatever-it-is' };
    assert.equal((await anon.post('/api/v1/auth/login', body)).status, 401);
    assert.equal((await anon.post('/api/v1/auth/refresh', { refresh_token: 'x' })).status, 401);
    const p = assertLimited(await anon.post('/api/v1/auth/login', body), 2);
    assert.match(p.detail, /sign-in limit: 2 per minute/);
    assert.equal((await anon.get('/healthz')).status, 200, 'other routes are not affected');
  });

  test('a tenant switch counts against the same sign-in limit', async () => {
    const s = await startServer({ env: { CAIRN_RATE_AUTH_PER_MIN: '2' } });
    const body = { tenant: 'none', email: 'x@y.example', password: 'whatever-it-is' };
    assert.equal((await api(s.url, null).post('/api/v1/auth/login', body)).status, 401);
    const first = await api(s.url).post('/api/v1/auth/switch', { tenant: 'none' });
    assert.equal(first.status, 400, first.text); // the operator token has no session to move
    const p = assertLimited(await api(s.url).post('/api/v1/auth/switch', { tenant: 'none' }), 2);
    assert.match(p.detail, /sign-in limit: 2 per minute/);
  });

  test('the operator token cannot mint API keys (it acts in no real tenant)', async () => {
    const s = await startServer();
    const r = await api(s.url).post('/api/v1/api-keys', { name: 'op', permissions: ['notes.read'] });
    assert.match(assertProblem(r, 409).detail, /operator token acts in no real tenant/);
  });

  test('behind a trusted proxy the X-Forwarded-For client is limited and audited; otherwise the peer', async () => {
    const s = await startServer({ env: { CAIRN_RATE_IP_PER_MIN: '3', CAIRN_TRUSTED_PROXIES: '127.0.0.0/8, ::1' } });
    const anon = api(s.url, null);
    const from = (ip) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) assert.equal((await anon.get('/healthz', from('198.51.100.1'))).status, 200);
    assertLimited(await anon.get('/healthz', from('198.51.100.1')), 3);
    // another client behind the same proxy has its own bucket; a forged left entry is ignored
    assert.equal((await anon.get('/healthz', from('6.6.6.6, 198.51.100.2'))).status, 200);
    assert.equal((await api(s.url).post('/api/v1/notes', { title: 'via proxy' }, from('203.0.113.5, 127.0.0.1'))).status, 201);
    const audit = await api(s.url, undefined).get('/api/v1/audit', from('203.0.113.9'));
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.items[0].ip, '203.0.113.5');

    const direct = await startServer({ env: { CAIRN_RATE_IP_PER_MIN: '3' } });
    const d = api(direct.url, null);
    for (let i = 0; i < 3; i++) assert.equal((await d.get('/healthz', from(`198.51.100.${i}`))).status, 200);
    assertLimited(await d.get('/healthz', from('198.51.100.9')), 3); // not trusted: one bucket, the peer's
  });

  test('a bad trusted proxy entry stops the server with the key named', async () => {
    await assert.rejects(startServer({ env: { CAIRN_TRUSTED_PROXIES: '10.0.0.0/8, 10.1/33' } }),
      /server\.trusted_proxies: must be IP addresses or CIDR blocks .*"10\.1\/33"/);
  });

  test('a bad limit value stops the server with the key named', async () => {
    await assert.rejects(startServer({ env: { CAIRN_RATE_USER_PER_MIN: '0' } }),
      /limits\.user_per_min: must be an integer from 1/);
  });
});
