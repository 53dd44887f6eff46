// Brute force: after N failures within the window the account is locked, even for the
// right password; the lock expires; unknown e-mails lock the same way (no enumeration).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem, request, runCli, runCliWithInput, sleep, startServer, stopAllServers, tempDir } from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;
const login = (email, password) => request(`${srv.url}/api/v1/auth/login`, {
  method: 'POST', body: { tenant: 'lk', email, password },
});

before(async () => {
  const data = tempDir('cairn-e2e-lock-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'lk', '--name', 'LK', '--data', data])).code, 0);
  const r = await runCliWithInput(['user', 'create', '--tenant', 'lk', '--email', 'lee@lk.example',
    '--role', 'member', '--password-stdin', '--data', data], `${PW}\n`);
  assert.equal(r.code, 0, r.stderr);
  srv = await startServer({ dataDir: data, env: { CAIRN_LOCKOUT_ATTEMPTS: '5', CAIRN_LOCKOUT_WINDOW_S: '2' } });
});

test('the 6th attempt within the window is refused even with the right password; the lock expires', async () => {
  for (let i = 0; i < 5; i++)
    assert.equal((await login('lee@lk.example', `wrong-password-${i}`)).status, 401, `attempt ${i + 1}`);
  const locked = await login('lee@lk.example', PW);
  const p = assertProblem(locked, 429);
  assert.match(p.detail, /too many failed sign-ins/);
  assert.ok(Number(locked.headers['retry-after']) >= 1);
  await sleep(2200); // the first lock lasts one window
  const ok = await login('lee@lk.example', PW);
  assert.equal(ok.status, 200, ok.text);
});

test('an e-mail without an account locks exactly like a real one', async () => {
  for (let i = 0; i < 5; i++)
    assert.equal(assertProblem(await login('ghost@lk.example', `wrong-password-${i}`), 401).detail,
      'the tenant, e-mail or password is wrong');
  assertProblem(await login('ghost@lk.example', 'anything-at-all'), 429);
});
