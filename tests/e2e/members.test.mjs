// Tenant administration: members (add, list, change role, remove) and custom roles.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  api, assertProblem, dbExec, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
const NEWPW = 'amber-Falcon-19-window';
let srv;

const login = (tenant, email, password = PW) => request(`${srv.url}/api/v1/auth/login`, {
  method: 'POST', body: { tenant, email, password },
});
async function token(tenant, email, password = PW) {
  const r = await login(tenant, email, password);
  assert.equal(r.status, 200, `${email}: ${r.text}`);
  return r.json.access_token;
}

before(async () => {
  const data = tempDir('cairn-e2e-members-');
  for (const slug of ['ma', 'mb'])
    assert.equal((await runCli(['tenant', 'create', '--slug', slug, '--name', slug, '--data', data])).code, 0);
  for (const [t, who, role] of [['ma', 'own', 'owner'], ['ma', 'adm', 'admin'], ['mb', 'ext', 'member']]) {
    const r = await runCliWithInput(['user', 'create', '--tenant', t, '--email', `${who}@m.example`,
      '--role', role, '--password-stdin', '--data', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir: data });
});

test('members: add new and existing accounts, roles, owners protected, sessions end', async () => {
  const own = api(srv.url, await token('ma', 'own@m.example'));
  const adm = api(srv.url, await token('ma', 'adm@m.example'));

  // a new account needs a password that passes the policy
  assert.equal(assertProblem(await own.post('/api/v1/users', { email: 'new@m.example', role: 'member' }), 422)
    .errors[0].field, 'password');
  assertProblem(await own.post('/api/v1/users', { email: 'new@m.example', role: 'member', password: 'password12345' }), 422);
  const added = await own.post('/api/v1/users', { email: 'New@M.example', role: 'member', password: NEWPW });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.headers.location, `/api/v1/users/${added.json.id}`);
  assert.ok(await token('ma', 'new@m.example', NEWPW));
  assertProblem(await own.post('/api/v1/users', { email: 'new@m.example', role: 'viewer' }), 409);

  // an existing account from another tenant joins with its own password
  const ext = await own.post('/api/v1/users', { email: 'ext@m.example', role: 'viewer' });
  assert.equal(ext.status, 201, ext.text);
  const extToken = await token('ma', 'ext@m.example');

  const list = await own.get('/api/v1/users?limit=2');
  assert.equal(list.status, 200);
  assert.equal(list.json.items.length, 2);
  const rest = await own.get(`/api/v1/users?limit=2&cursor=${encodeURIComponent(list.json.next_cursor)}`);
  const emails = [...list.json.items, ...rest.json.items].map((m) => m.email).sort();
  assert.deepEqual(emails, ['adm@m.example', 'ext@m.example', 'new@m.example', 'own@m.example']);

  // only owners make owners; unknown roles are refused
  assertProblem(await adm.patch(`/api/v1/users/${ext.json.id}`, { role: 'owner' }), 403);
  assert.equal(assertProblem(await adm.patch(`/api/v1/users/${ext.json.id}`, { role: 'pope' }), 422).errors[0].field, 'role');
  // a role change ends the member's sessions in this tenant (their token carries the old role)
  const promoted = await adm.patch(`/api/v1/users/${ext.json.id}`, { role: 'member' });
  assert.equal(promoted.status, 200, promoted.text);
  assertProblem(await api(srv.url, extToken).get('/api/v1/users/me'), 401);

  // the last owner can be neither demoted nor removed
  const ownId = (await own.get('/api/v1/users/me')).json.id;
  assert.equal(assertProblem(await own.patch(`/api/v1/users/${ownId}`, { role: 'admin' }), 409).detail,
    'a tenant must keep at least one owner');
  assertProblem(await own.delete(`/api/v1/users/${ownId}`), 409);

  // removal: gone from the list, sessions ended, account kept for its other tenant
  assert.equal((await own.delete(`/api/v1/users/${ext.json.id}`)).status, 204);
  assertProblem(await own.delete(`/api/v1/users/${ext.json.id}`), 404);
  assert.equal((await login('ma', 'ext@m.example')).status, 401);
  assert.equal((await login('mb', 'ext@m.example')).status, 200);
});

test('custom roles: created from held permissions, enforced on the next request, deletable when unused', async () => {
  const own = api(srv.url, await token('ma', 'own@m.example'));
  assert.equal(assertProblem(await own.post('/api/v1/roles', { name: 'auditor', permissions: ['notes.read', 'no.such'] }), 422)
    .errors[0].field, 'permissions[1]');
  assertProblem(await own.post('/api/v1/roles', { name: 'admin', permissions: ['notes.read'] }), 422);
  const made = await own.post('/api/v1/roles', { name: 'auditor', permissions: ['notes.read', 'audit.manage'] });
  assert.equal(made.status, 201, made.text);
  assertProblem(await own.post('/api/v1/roles', { name: 'auditor', permissions: ['notes.read'] }), 409);
  const roles = await own.get('/api/v1/roles');
  assert.deepEqual(roles.json.items.map((r) => r.name), ['owner', 'admin', 'member', 'viewer', 'auditor']);

  const aud = await own.post('/api/v1/users', { email: 'aud@m.example', role: 'auditor', password: NEWPW });
  assert.equal(aud.status, 201, aud.text);
  const a = api(srv.url, await token('ma', 'aud@m.example', NEWPW));
  assert.equal((await a.get('/api/v1/notes')).status, 200);
  assert.equal((await a.get('/api/v1/audit')).status, 200);
  assert.equal((await a.get('/api/v1/users/me')).status, 200, 'self.* comes with every role');
  assertProblem(await a.post('/api/v1/notes', { title: 'x' }), 403);
  assertProblem(await a.post('/api/v1/roles', { name: 'x', permissions: ['notes.read'] }), 403);

  assertProblem(await own.delete('/api/v1/roles/auditor'), 409);
  assert.equal((await own.patch(`/api/v1/users/${aud.json.id}`, { role: 'viewer' })).status, 200);
  assert.equal((await own.delete('/api/v1/roles/auditor')).status, 204);
  assertProblem(await own.delete('/api/v1/roles/auditor'), 404);
});

test('no escalation: keys and custom roles cannot grant more than their maker holds; keys die with membership', async () => {
  const own = api(srv.url, await token('ma', 'own@m.example'));
  const adm = api(srv.url, await token('ma', 'adm@m.example'));
  const admId = (await adm.get('/api/v1/users/me')).json.id;
  // an admin's key with users.manage cannot make the admin an owner
  const key = await adm.post('/api/v1/api-keys', { name: 'esc', permissions: ['users.manage', 'users.read'] });
  assert.equal(key.status, 201, key.text);
  const viaKey = api(srv.url, key.json.key);
  assertProblem(await viaKey.patch(`/api/v1/users/${admId}`, { role: 'owner' }), 403);
  const ownId = (await own.get('/api/v1/users/me')).json.id;
  assertProblem(await viaKey.patch(`/api/v1/users/${ownId}`, { role: 'viewer' }), 403);
  // a custom role holding only users.manage cannot hand out admin
  assert.equal((await own.post('/api/v1/roles', { name: 'hr', permissions: ['users.manage', 'users.read'] })).status, 201);
  const hr = await own.post('/api/v1/users', { email: 'hr@m.example', role: 'hr', password: NEWPW });
  assert.equal(hr.status, 201, hr.text);
  const h = api(srv.url, await token('ma', 'hr@m.example', NEWPW));
  assertProblem(await h.post('/api/v1/users', { email: 'x2@m.example', role: 'admin', password: NEWPW }), 403);
  // nor a viewer, who reads notes and insights the custom role cannot: a viewer account made
  // with a password of the caller's choosing would hand those reads to the caller
  assertProblem(await h.post('/api/v1/users', { email: 'x3@m.example', role: 'viewer', password: NEWPW }), 403);
  assertProblem(await viaKey.post('/api/v1/users', { email: 'x4@m.example', role: 'viewer', password: NEWPW }), 403);
  // a key that holds every permission of the viewer role may hand it out
  const viewerPerms = (await own.get('/api/v1/roles')).json.items.find((x) => x.name === 'viewer').permissions
    .filter((x) => !x.startsWith('self.'));
  assert.ok(viewerPerms.includes('notes.read'));
  const reader = await adm.post('/api/v1/api-keys', { name: 'reader', permissions: ['users.manage', ...viewerPerms] });
  assert.equal(reader.status, 201, reader.text);
  assert.equal((await api(srv.url, reader.json.key).post('/api/v1/users', { email: 'x5@m.example', role: 'viewer', password: NEWPW })).status, 201);
  // removing the admin revokes the keys they made
  assert.equal((await viaKey.get('/api/v1/users')).status, 200);
  assert.equal((await own.delete(`/api/v1/users/${admId}`)).status, 204);
  assertProblem(await viaKey.get('/api/v1/users'), 401);
});

test('a key just used is refused at once when revoked; a revocation written by another process within seconds', async () => {
  const own = api(srv.url, await token('ma', 'own@m.example'));
  const made = await own.post('/api/v1/api-keys', { name: 'cached', permissions: ['notes.read'] });
  assert.equal(made.status, 201, made.text);
  const k = api(srv.url, made.json.key);
  for (let i = 0; i < 3; i++) assert.equal((await k.get('/api/v1/notes')).status, 200);
  assert.equal((await own.delete(`/api/v1/api-keys/${made.json.id}`)).status, 204);
  assertProblem(await k.get('/api/v1/notes'), 401); // the row read a moment ago does not count
  // revoked in the database by someone else (another process, a restore): no signal reaches
  // this one, and the key's row is read again within a second
  const other = await own.post('/api/v1/api-keys', { name: 'elsewhere', permissions: ['notes.read'] });
  const k2 = api(srv.url, other.json.key);
  assert.equal((await k2.get('/api/v1/notes')).status, 200);
  await dbExec(srv, `UPDATE api_keys SET revoked_at = 1 WHERE id = '${other.json.id}'`);
  await waitFor(async () => (await k2.get('/api/v1/notes')).status === 401, 10_000, 'the key refused');
});

test('custom roles: the longest name and a long permission list hold through every step', async () => {
  const own = api(srv.url, await token('ma', 'own@m.example'));
  const name = 'r'.repeat(32);
  assertProblem(await own.post('/api/v1/roles', { name: 'r'.repeat(33), permissions: ['notes.read'] }), 422);
  // every permission the owner holds, notes.read last: a list cut short would lose it
  const perms = (await own.get('/api/v1/roles')).json.items.find((x) => x.name === 'owner').permissions
    .filter((x) => x !== 'notes.read').concat('notes.read');
  const made = await own.post('/api/v1/roles', { name, permissions: perms });
  assert.equal(made.status, 201, made.text);
  const listed = (await own.get('/api/v1/roles')).json.items.find((x) => x.name === name);
  assert.deepEqual(listed.permissions, perms);

  const added = await own.post('/api/v1/users', { email: 'long@m.example', role: name, password: NEWPW });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.json.role, name);
  const members = (await own.get('/api/v1/users?limit=100')).json.items;
  assert.equal(members.find((m) => m.id === added.json.id).role, name);
  const l = api(srv.url, await token('ma', 'long@m.example', NEWPW));
  const session = await l.get('/api/v1/auth/session');
  assert.equal(session.status, 200, session.text);
  assert.equal(session.json.role, name);
  assert.equal((await l.get('/api/v1/users/me')).json.role, name);
  assert.equal((await l.get('/api/v1/notes')).status, 200, 'the last permission of the list applies');
  // the member hands the role out in turn: it grants nothing they lack
  const second = await l.post('/api/v1/users', { email: 'long2@m.example', role: name, password: NEWPW });
  assert.equal(second.status, 201, second.text);

  const down = await own.patch(`/api/v1/users/${added.json.id}`, { role: 'viewer' });
  assert.equal(down.status, 200, down.text);
  const up = await own.patch(`/api/v1/users/${added.json.id}`, { role: name });
  assert.equal(up.status, 200, up.text);
  assert.equal((await own.delete(`/api/v1/users/${added.json.id}`)).status, 204);
  assert.equal((await own.delete(`/api/v1/users/${second.json.id}`)).status, 204);
  assert.equal((await own.delete(`/api/v1/roles/${name}`)).status, 204);
});
