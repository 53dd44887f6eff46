// TOTP MFA: enrolment (secret, otpauth URI, QR PNG), confirmation with a first code and
// ten recovery codes, sign-in step-up through a challenge, no replay, single-use
// recovery codes, one attempt per challenge.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  api, assertProblem, dbValue, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir,
} from './lib/server.mjs';
import { base32Decode, totp } from './lib/totp.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;

const login = () => request(`${srv.url}/api/v1/auth/login`, {
  method: 'POST', body: { tenant: 'mf', email: 'max@mf.example', password: PW },
});
const verify = (body) => request(`${srv.url}/api/v1/auth/mfa/verify`, { method: 'POST', body });

before(async () => {
  const data = tempDir('cairn-e2e-mfa-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'mf', '--name', 'MF', '--data', data])).code, 0);
  const r = await runCliWithInput(['user', 'create', '--tenant', 'mf', '--email', 'max@mf.example',
    '--role', 'admin', '--password-stdin', '--data', data], `${PW}\n`);
  assert.equal(r.code, 0, r.stderr);
  srv = await startServer({ dataDir: data });
});

test('enrol, confirm, then sign-in needs the second factor', async () => {
  const first = await login();
  assert.equal(first.status, 200);
  assert.ok(first.json.access_token, 'without MFA a password signs in');
  const me = api(srv.url, first.json.access_token);

  const enrol = await me.post('/api/v1/auth/mfa/enroll');
  assert.equal(enrol.status, 200, enrol.text);
  assert.match(enrol.json.secret, /^[A-Z2-7]{32}$/);
  assert.match(enrol.json.otpauth_uri, /^otpauth:\/\/totp\/Cairn:max@mf\.example\?secret=[A-Z2-7]+&issuer=Cairn/);
  const png = Buffer.from(enrol.json.qr_png_base64url, 'base64url');
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const secret = base32Decode(enrol.json.secret);

  const bad = await me.post('/api/v1/auth/mfa/confirm', { code: totp(secret) === '000000' ? '111111' : '000000' });
  assert.equal(assertProblem(bad, 422).errors[0].field, 'code');
  // a code from the step before: accepted (drift), and it becomes the last used step
  const code = totp(secret, Date.now() - 30_000);
  const conf = await me.post('/api/v1/auth/mfa/confirm', { code });
  assert.equal(conf.status, 200, conf.text);
  assert.equal(conf.json.recovery_codes.length, 10);
  assert.equal(new Set(conf.json.recovery_codes).size, 10);
  assertProblem(await me.post('/api/v1/auth/mfa/confirm', { code: totp(secret) }), 409);

  // sign-in now stops at a challenge
  const step1 = await login();
  assert.equal(step1.status, 200);
  assert.equal(step1.json.mfa_required, true);
  assert.equal(step1.json.access_token, undefined);
  // the confirmation's code cannot be replayed
  assert.equal(assertProblem(await verify({ challenge: step1.json.challenge, code }), 401).detail,
    'this code was already used');
  // ...and that attempt used up the challenge
  assertProblem(await verify({ challenge: step1.json.challenge, code: totp(secret) }), 401);

  const step2 = await login();
  const ok = await verify({ challenge: step2.json.challenge, code: totp(secret) });
  assert.equal(ok.status, 200, ok.text);
  assert.ok(ok.json.access_token);
  assert.equal((await api(srv.url, ok.json.access_token).get('/api/v1/users/me')).status, 200);

  // recovery codes work once each
  const rc = conf.json.recovery_codes[3];
  const step3 = await login();
  assert.equal((await verify({ challenge: step3.json.challenge, recovery_code: rc })).status, 200);
  const step4 = await login();
  assertProblem(await verify({ challenge: step4.json.challenge, recovery_code: rc }), 401);

  // with "cookie": true the second step answers cookies, and no token in its body
  const step6 = await login();
  const viaCookie = await verify({ challenge: step6.json.challenge, recovery_code: conf.json.recovery_codes[4], cookie: true });
  assert.equal(viaCookie.status, 200, viaCookie.text);
  assert.equal(viaCookie.json.access_token, undefined);
  assert.equal(viaCookie.json.refresh_token, undefined);
  assert.equal(viaCookie.json.expires_in, 900);
  const jar = [].concat(viaCookie.headers['set-cookie']).map((c) => c.split(';')[0]).join('; ');
  assert.match(jar, /cairn_at=ey/);
  const who = await request(`${srv.url}/api/v1/auth/session`, { headers: { cookie: jar } });
  assert.equal(who.status, 200, who.text);
  assert.equal(who.json.mfa, true, 'opened with a second factor');

  // malformed: both or neither factor, unknown challenge
  const step5 = await login();
  assertProblem(await verify({ challenge: step5.json.challenge }), 422);
  assertProblem(await verify({ challenge: 'nope', code: '123456' }), 401);
});


test('TOTP secrets are encrypted at rest with a key kept outside the database', async () => {
  const data = tempDir('cairn-e2e-vault-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'mf', '--name', 'MF', '--data', data])).code, 0);
  assert.equal((await runCliWithInput(['user', 'create', '--tenant', 'mf', '--email', 'max@mf.example',
    '--role', 'member', '--password-stdin', '--data', data], `${PW}\n`)).code, 0);
  let s = await startServer({ dataDir: data });
  const keyFile = path.join(data, 'secrets.key');
  const st = statSync(keyFile);
  assert.equal(st.size, 32);
  assert.equal(st.mode & 0o777, 0o600);
  const signIn = () => request(`${s.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'mf', email: 'max@mf.example', password: PW },
  });
  const first = (await signIn()).json;
  const me = api(s.url, first.access_token);
  const enrol = await me.post('/api/v1/auth/mfa/enroll');
  const secret = base32Decode(enrol.json.secret);
  const confirmed = await me.post('/api/v1/auth/mfa/confirm', { code: totp(secret) });
  assert.equal(confirmed.status, 200);
  const stored = await dbValue(data, 'SELECT secret FROM mfa');
  assert.match(stored, /^v1:[0-9a-f]{120}$/);
  assert.ok(!stored.includes(Buffer.from(secret).toString('hex')), 'the plain secret is not in the database');

  // a restart reads the same key: the second factor still verifies
  await s.stop();
  s = await startServer({ dataDir: data });
  const step = await signIn();
  assert.equal(step.json.mfa_required, true);
  const later = totp(secret, Date.now() + 30_000); // the confirmation used the current step
  const ok = await request(`${s.url}/api/v1/auth/mfa/verify`, { method: 'POST', body: { challenge: step.json.challenge, code: later } });
  assert.equal(ok.status, 200, ok.text);
  const signedWithOldKey = ok.json.access_token;

  // another key file (the database restored without its secrets.key): the server refuses
  // to start (78), naming the key and what does not open, and leaves no new key behind
  await s.stop();
  const other = path.join(tempDir('cairn-e2e-vault-key-'), 'other.key');
  await assert.rejects(startServer({ dataDir: data, env: { CAIRN_SECRETS_KEY_FILE: other } }),
    (e) => /exited with 78/.test(e.message) && /auth\.secrets_key_file/.test(e.message) &&
      /1 signing keys and 1 TOTP secrets/.test(e.message) && /--allow-unusable-secrets/.test(e.message));
  assert.ok(!existsSync(other), 'the refused start created no key file');

  // started anyway on purpose: the old signing key is retired (its tokens end), and the
  // TOTP secret that cannot open answers a problem of its own instead of a 500
  s = await startServer({ dataDir: data, env: { CAIRN_SECRETS_KEY_FILE: other }, args: ['--allow-unusable-secrets'] });
  assert.equal((await api(s.url, signedWithOldKey).get('/api/v1/users/me')).status, 401);
  const step2 = await signIn();
  const refused = await request(`${s.url}/api/v1/auth/mfa/verify`, {
    method: 'POST', body: { challenge: step2.json.challenge, code: totp(secret, Date.now() + 60_000) },
  });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.headers['content-type'], /^application\/problem\+json/);
  assert.equal(refused.json.type, 'urn:cairn:problem:mfa-secret-unusable');
  assert.match(refused.json.detail, /recovery code/);
  assert.ok(!JSON.stringify(refused.json).includes(other), 'no internals in the answer');
  // a recovery code still signs in, with a token of the new key
  const step3 = await signIn();
  const rec = await request(`${s.url}/api/v1/auth/mfa/verify`, {
    method: 'POST', body: { challenge: step3.json.challenge, recovery_code: confirmed.json.recovery_codes[0] },
  });
  assert.equal(rec.status, 200, rec.text);
  assert.equal((await api(s.url, rec.json.access_token).get('/api/v1/users/me')).status, 200);
  // ...and from that session (opened with a second factor) the user enrols again: the
  // unusable secret is replaced, after which the server starts without the setting
  const again = api(s.url, rec.json.access_token);
  const enrol2 = await again.post('/api/v1/auth/mfa/enroll');
  assert.equal(enrol2.status, 200, enrol2.text);
  const secret2 = base32Decode(enrol2.json.secret);
  const conf2 = await again.post('/api/v1/auth/mfa/confirm', { code: totp(secret2) });
  assert.equal(conf2.status, 200, conf2.text);
  await s.stop();
  s = await startServer({ dataDir: data, env: { CAIRN_SECRETS_KEY_FILE: other } });
  const step4 = await signIn();
  const withNew = await request(`${s.url}/api/v1/auth/mfa/verify`, {
    method: 'POST', body: { challenge: step4.json.challenge, code: totp(secret2, Date.now() + 30_000) },
  });
  assert.equal(withNew.status, 200, withNew.text);

  // a key file others can read stops the server, naming the problem
  await s.stop();
  chmodSync(keyFile, 0o644);
  await assert.rejects(startServer({ dataDir: data }), /readable by its owner only/);
});
