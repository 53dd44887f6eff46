// GDPR: export returns what is held about the caller; deleting the account removes it,
// anonymises its audit entries in the same transaction, and the audit chain still verifies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  api, assertProblem, dbExec, dbValue, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir,
} from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;
let data;

const login = (email, password = PW) => request(`${srv.url}/api/v1/auth/login`, {
  method: 'POST', body: { tenant: 'gd', email, password },
});

before(async () => {
  data = tempDir('cairn-e2e-gdpr-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'gd', '--name', 'GD', '--data', data])).code, 0);
  for (const who of ['zed', 'ann']) {
    const r = await runCliWithInput(['user', 'create', '--tenant', 'gd', '--email', `${who}@gd.example`,
      '--role', 'owner', '--password-stdin', '--data', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir: data });
});

test('export, then delete: the account is gone, its audit entries anonymised, the chain intact', async () => {
  assert.equal((await login('zed@gd.example', 'not-the-password')).status, 401);
  const zed = (await login('zed@gd.example')).json;
  const ann = (await login('ann@gd.example')).json;
  const z = api(srv.url, zed.access_token);
  assert.equal((await z.post('/api/v1/notes', { title: 'by zed' })).status, 201);

  const exp = await z.get('/api/v1/users/me/export');
  assert.equal(exp.status, 200, exp.text);
  assert.equal(exp.json.user.email, 'zed@gd.example');
  assert.equal(exp.json.memberships[0].tenant_slug, 'gd');
  assert.equal(exp.json.memberships[0].role, 'owner');
  assert.ok(exp.json.sessions.length >= 1);
  assert.ok(exp.json.audit_entries.some((e) => e.action === 'auth.login' && typeof e.seq === 'number'));
  assert.ok(exp.json.audit_entries.some((e) => e.action === 'POST /api/v1/notes'));
  assert.equal(JSON.stringify(exp.json).includes('argon2'), false, 'no password hash in the export');

  assert.equal((await z.delete('/api/v1/users/me')).status, 204);
  assertProblem(await z.get('/api/v1/users/me'), 401);
  assert.equal((await login('zed@gd.example')).status, 401);

  const audit = await api(srv.url, ann.access_token).get('/api/v1/audit?limit=200');
  assert.equal(audit.status, 200, audit.text);
  const text = JSON.stringify(audit.json);
  assert.equal(text.includes('zed'), false, 'no trace of the e-mail');
  assert.equal(text.includes(exp.json.user.id), false, 'no trace of the user id');
  assert.ok(audit.json.items.some((e) => e.actor === 'erased' && e.action === 'DELETE /api/v1/users/me'));

  const verify = await runCli(['audit', 'verify', '--data', data]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(await dbValue(data, "SELECT count(*) FROM users WHERE email = 'zed@gd.example'"), 0);

  // tampering with an anonymised row is still detected
  await dbExec(data, "UPDATE audit_log SET action = 'nothing' WHERE actor = 'erased' AND seq = (SELECT MIN(seq) FROM audit_log)");
  const broken = await runCli(['audit', 'verify', '--data', data]);
  assert.equal(broken.code, 1, 'a failed check exits 1');
  assert.match(broken.stderr, /entry 1 was changed/);
});
