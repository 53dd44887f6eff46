// Tenant policy "MFA required for admins": owners and admins signed in without a second
// factor may only tend to themselves (profile, MFA enrolment, sign-out) until they do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, assertProblem, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir } from './lib/server.mjs';
import { base32Decode, totp } from './lib/totp.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;

const login = (who) => request(`${srv.url}/api/v1/auth/login`, {
  method: 'POST', body: { tenant: 'pol', email: `${who}@pol.example`, password: PW },
});
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

before(async () => {
  const data = tempDir('cairn-e2e-mfapol-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'pol', '--name', 'Pol', '--data', data])).code, 0);
  for (const [who, role] of [['olga', 'owner'], ['adam', 'admin'], ['mia', 'member']]) {
    const r = await runCliWithInput(['user', 'create', '--tenant', 'pol', '--email', `${who}@pol.example`,
      '--role', role, '--password-stdin', '--data', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir: data });
});

test('the policy confines admins without MFA until they sign in with a code', async () => {
  const olga = api(srv.url, (await login('olga')).json.access_token);
  const set = await olga.patch('/api/v1/tenant', { mfa_required_for_admins: true });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.mfa_required_for_admins, true);

  const adamLogin = await login('adam');
  assert.equal(claims(adamLogin.json.access_token).mfa, false);
  const adam = api(srv.url, adamLogin.json.access_token);
  const refused = assertProblem(await adam.get('/api/v1/notes'), 403);
  assert.match(refused.detail, /requires MFA for owners and admins/);
  assert.equal(refused.type, 'urn:cairn:problem:mfa-required');
  assertProblem(await olga.patch('/api/v1/tenant', { name: 'x' }), 403); // olga too, now
  assert.equal((await adam.get('/api/v1/users/me')).status, 200, 'self.* stays open');
  // members are not concerned
  const mia = api(srv.url, (await login('mia')).json.access_token);
  assert.equal((await mia.get('/api/v1/notes')).status, 200);

  // adam enrols, confirms, and signs in with the second factor
  const enrol = await adam.post('/api/v1/auth/mfa/enroll');
  assert.equal(enrol.status, 200, enrol.text);
  const secret = base32Decode(enrol.json.secret);
  // confirm with the previous step's code so the current one stays usable for sign-in
  const prev = totp(secret, Date.now() - 30_000);
  assert.equal((await adam.post('/api/v1/auth/mfa/confirm', { code: prev })).status, 200);
  const step = await login('adam');
  assert.equal(step.json.mfa_required, true);
  const done = await request(`${srv.url}/api/v1/auth/mfa/verify`, {
    method: 'POST', body: { challenge: step.json.challenge, code: totp(secret) },
  });
  assert.equal(done.status, 200, done.text);
  assert.equal(claims(done.json.access_token).mfa, true);
  assert.equal((await api(srv.url, done.json.access_token).get('/api/v1/notes')).status, 200);
  // and the MFA mark survives a refresh
  const ref = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: done.json.refresh_token } });
  assert.equal(claims(ref.json.access_token).mfa, true);
});
