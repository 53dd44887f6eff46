// Password change: the current password is checked, the new one must pass the policy, and
// every other session of the user (in every tenant) ends at once; audit records it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api, assertProblem, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir,
} from './lib/server.mjs';

after(stopAllServers);

const OLD = 'vivid-Otter-42-lantern';
const NEW = 'amber-Falcon-19-window';
let srv;

async function login(tenant, password) {
  return request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant, email: 'pat@pw.example', password },
  });
}

before(async () => {
  const data = tempDir('cairn-e2e-pw-');
  for (const slug of ['one', 'two']) {
    assert.equal((await runCli(['tenant', 'create', '--slug', slug, '--name', slug, '--data', data])).code, 0);
    const r = await runCliWithInput(['user', 'create', '--tenant', slug, '--email', 'pat@pw.example',
      '--role', 'owner', '--password-stdin', '--data', data], `${OLD}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir: data });
});

describe('password change', () => {
  test('ends every other session in every tenant, keeps the caller\'s, and is audited', async () => {
    const [a, b, c] = await Promise.all([login('one', OLD), login('one', OLD), login('two', OLD)]);
    for (const s of [a, b, c]) assert.equal(s.status, 200, s.text);
    const as = (t) => api(srv.url, t.json.access_token);

    const wrong = await as(a).post('/api/v1/auth/password', { current_password: 'not-the-password', new_password: NEW });
    assert.equal(assertProblem(wrong, 401).detail, 'the current password is wrong');
    const weak = await as(a).post('/api/v1/auth/password', { current_password: OLD, new_password: 'password12345' });
    const p = assertProblem(weak, 422);
    assert.equal(p.errors[0].field, 'new_password');
    assert.equal((await as(b).get('/api/v1/users/me')).status, 200, 'failed attempts end nothing');

    const ok = await as(a).post('/api/v1/auth/password', { current_password: OLD, new_password: NEW });
    assert.equal(ok.status, 204, ok.text);
    assert.equal((await as(a).get('/api/v1/users/me')).status, 200, 'the caller keeps its session');
    for (const other of [b, c]) {
      const r = await as(other).get('/api/v1/users/me');
      assert.equal(assertProblem(r, 401).detail, 'the session has been signed out');
    }
    assert.equal((await login('one', OLD)).status, 401);
    assert.equal((await login('two', NEW)).status, 200);

    const audit = await as(a).get('/api/v1/audit?action=auth.password.changed');
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.items.length, 1);
    assert.equal(audit.json.items[0].status, 204);
  });
});
