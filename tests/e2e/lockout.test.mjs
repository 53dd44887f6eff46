// Brute force: after N failures within the window the account is locked for that client
// IP, even for the right password; the lock expires and is capped; unknown e-mails lock
// the same way (no enumeration); many IPs only throttle the account; admins, the CLI
// (and a password reset, see reset.test.mjs) unlock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api, assertProblem, dbExec, dbQuery, request, runCli, runCliWithInput, sleep, startServer, stopAllServers, tempDir,
  waitFor,
} from './lib/server.mjs';

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

// Behind a trusted proxy (server.trusted_proxies = 127.0.0.1) the client is the address in
// X-Forwarded-For, so one test process can sign in "from" several IPs.
describe('lockout per account and client IP', () => {
  const AT = 'lk2';
  let srv2, data2;
  const from = (ip, email, password, tenant = AT) => request(`${srv2.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant, email, password }, headers: { 'x-forwarded-for': ip },
  });
  const lockFrom = async (ip, email) => {
    for (let i = 0; i < 5; i++)
      assert.equal((await from(ip, email, `wrong-password-${i}`)).status, 401, `attempt ${i + 1} from ${ip}`);
    assertProblem(await from(ip, email, PW), 429);
  };
  const user = async (tenant, email, role) => {
    const r = await runCliWithInput(['user', 'create', '--tenant', tenant, '--email', email, '--role', role,
      '--password-stdin', '--data', data2], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const ids = {};

  before(async () => {
    data2 = tempDir('cairn-e2e-lock2-');
    for (const slug of [AT, 'other'])
      assert.equal((await runCli(['tenant', 'create', '--slug', slug, '--name', slug, '--data', data2])).code, 0);
    for (const name of ['ann', 'mo', 'cli', 'thr', 'kno', 'six']) ids[name] = await user(AT, `${name}@lk.example`, 'member');
    await user(AT, 'ada@lk.example', 'admin');
    await user('other', 'oz@other.example', 'admin');
    srv2 = await startServer({
      dataDir: data2,
      env: {
        CAIRN_TRUSTED_PROXIES: '127.0.0.1', CAIRN_LOCKOUT_ATTEMPTS: '5', CAIRN_LOCKOUT_WINDOW_S: '16',
        CAIRN_LOCKOUT_ACCOUNT_ATTEMPTS: '8',
      },
    });
  });

  test('failures from IP A lock A only: the same account signs in from IP B', async () => {
    await lockFrom('203.0.113.1', 'ann@lk.example');
    const b = await from('198.51.100.2', 'ann@lk.example', PW);
    assert.equal(b.status, 200, b.text);
    assertProblem(await from('203.0.113.1', 'ann@lk.example', PW), 429); // A stays locked
  });

  test('an admin unlocks a member (audited); another tenant\'s admin gets 404', async () => {
    await lockFrom('203.0.113.5', 'mo@lk.example');
    const admin = api(srv2.url, (await from('198.51.100.9', 'ada@lk.example', PW)).json.access_token);
    const stranger = api(srv2.url, (await from('198.51.100.9', 'oz@other.example', PW, 'other')).json.access_token);
    assertProblem(await stranger.post(`/api/v1/users/${ids.mo}/unlock`), 404);
    assertProblem(await from('203.0.113.5', 'mo@lk.example', PW), 429); // still locked
    const member = api(srv2.url, (await from('198.51.100.9', 'ann@lk.example', PW)).json.access_token);
    assertProblem(await member.post(`/api/v1/users/${ids.mo}/unlock`), 403); // needs users.manage
    // the member list shows the lock to the admin, and no lock for the others
    const lockedOf = async (id) => {
      const l = await admin.get('/api/v1/users?limit=100');
      assert.equal(l.status, 200, l.text);
      return l.json.items.find((m) => m.id === id).locked_until;
    };
    assert.ok(await lockedOf(ids.mo) > Date.now(), 'mo is locked');
    assert.equal(await lockedOf(ids.six), null);
    const u = await admin.post(`/api/v1/users/${ids.mo}/unlock`);
    assert.equal(u.status, 200, u.text);
    assert.ok(u.json.cleared_records >= 1);
    assert.equal(await lockedOf(ids.mo), null, 'the unlock shows');
    assert.equal((await from('203.0.113.5', 'mo@lk.example', PW)).status, 200);
    const audit = await admin.get(`/api/v1/audit?action=${encodeURIComponent('POST /api/v1/users/{id}/unlock')}`);
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.items.length, 1, audit.text);
    assert.equal(audit.json.items[0].object, ids.mo);
  });

  test('cairn user unlock clears the lock from the command line', async () => {
    await lockFrom('203.0.113.7', 'cli@lk.example');
    const r = await runCli(['user', 'unlock', '--tenant', AT, '--email', 'CLI@lk.example', '--data', data2]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[1-9]\d* sign-in failure records cleared/);
    assert.equal((await from('203.0.113.7', 'cli@lk.example', PW)).status, 200);
    // audited like the API's unlock: actor operator, the account's id, never the e-mail
    const ada = api(srv2.url, (await from('198.51.100.7', 'ada@lk.example', PW)).json.access_token);
    const audit = await ada.get('/api/v1/audit?action=auth.lockout.cleared_by_operator');
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.items.length, 1, audit.text);
    assert.equal(audit.json.items[0].actor, 'operator');
    assert.equal(audit.json.items[0].object, ids.cli);
    const bad = await runCli(['user', 'unlock', '--tenant', 'nope', '--email', 'cli@lk.example', '--data', data2]);
    assert.equal(bad.code, 66, bad.stderr); // no such tenant (docs/operations.md, exit codes)
    assert.equal((await runCli(['user', 'unlock', '--tenant', AT, '--data', data2])).code, 64);
    const wrong = await runCli(['user', 'lock', '--data', data2]);
    assert.equal(wrong.code, 64);
    assert.match(wrong.stderr, /unknown subcommand 'lock'[^]*cairn user unlock/);
  });

  test('guesses from many IPs throttle the account (not lock it): one check per window/ceiling', async () => {
    for (const ip of ['192.0.2.1', '192.0.2.2'])
      for (let i = 0; i < 4; i++)
        assert.equal((await from(ip, 'thr@lk.example', `wrong-password-${i}`)).status, 401);
    // 8 failures in the window reach the ceiling: a third address is slowed down, briefly
    const t = assertProblem(await from('192.0.2.3', 'thr@lk.example', PW), 429);
    assert.match(t.detail, /too many failed sign-ins/);
    const wait = Number((await from('192.0.2.3', 'thr@lk.example', PW)).headers['retry-after'] ?? 0);
    assert.ok(wait <= 2, `a throttle step is window/ceiling = 2 s, got Retry-After ${wait}`);
    await waitFor(async () => (await from('192.0.2.3', 'thr@lk.example', PW)).status === 200, 15_000,
      'the throttled account to let a sign-in through');
  });

  test('past the ceiling a known client (signed in here before) still signs in; an unknown one is throttled', async () => {
    const home = '198.51.100.77';
    assert.equal((await from(home, 'kno@lk.example', PW)).status, 200); // the user's usual client
    // a distributed attack reaches the account-wide ceiling (8 per window here)
    for (const ip of ['192.0.2.31', '192.0.2.32'])
      for (let i = 0; i < 4; i++)
        assert.equal((await from(ip, 'kno@lk.example', `wrong-password-${i}`)).status, 401);
    assertProblem(await from('192.0.2.33', 'kno@lk.example', 'wrong-password-x'), 429);
    assertProblem(await from('192.0.2.34', 'kno@lk.example', PW), 429); // a client never seen
    const ok = await from(home, 'kno@lk.example', PW);
    assert.equal(ok.status, 200, ok.text);
    // the known client keeps its own per-pair lock
    for (let i = 0; i < 5; i++)
      assert.equal((await from(home, 'kno@lk.example', `wrong-password-${i}`)).status, 401);
    assertProblem(await from(home, 'kno@lk.example', PW), 429);
  });

  test('two IPv6 addresses in one /64 are one client: they share a lock', async () => {
    await lockFrom('2001:db8:7:8::1', 'six@lk.example');
    assertProblem(await from('2001:db8:7:8:ffff:1:2:3', 'six@lk.example', PW), 429);
    const other = await from('2001:db8:7:9::1', 'six@lk.example', PW); // another /64
    assert.equal(other.status, 200, other.text);
  });
});

describe('rows long over are swept by a recurring job', () => {
  test('auth.lockout_sweep deletes rows whose window and lock ended a day ago, and keeps the rest', async () => {
    const data = tempDir('cairn-e2e-lock4-');
    assert.equal((await runCli(['tenant', 'create', '--slug', 'sw', '--name', 'SW', '--data', data])).code, 0);
    const now = Date.now();
    await dbExec(data,
      'INSERT INTO login_failures (account, ip, failures, window_start, lockouts, locked_until, known_until) VALUES'
      + ` ('sw/gone@sw.example', '192.0.2.1', 3, ${now - 3 * 86400e3}, 1, ${now - 2 * 86400e3}, 0),`
      + ` ('sw/gone@sw.example', '', 9, ${now - 3 * 86400e3}, 0, 0, 0),`
      + ` ('sw/recent@sw.example', '192.0.2.1', 2, ${now - 60e3}, 0, 0, 0),`
      + ` ('sw/known@sw.example', '192.0.2.1', 0, ${now - 3 * 86400e3}, 0, 0, ${now + 86400e3})`);
    await startServer({ dataDir: data });
    const rows = async () => (await dbQuery(data, "SELECT account || ' ' || ip AS r FROM login_failures ORDER BY 1"))
      .map(({ r }) => r);
    await waitFor(async () => !(await rows()).some((r) => r.startsWith('sw/gone')), 15_000, 'the sweep');
    assert.deepEqual(await rows(), ['sw/known@sw.example 192.0.2.1', 'sw/recent@sw.example 192.0.2.1']);
  });
});

describe('the longest lock is auth.lockout_max_s', () => {
  test('with a 900 s window and lockout_max_s = 2 the lock ends within seconds', async () => {
    const data = tempDir('cairn-e2e-lock3-');
    assert.equal((await runCli(['tenant', 'create', '--slug', 'mx', '--name', 'MX', '--data', data])).code, 0);
    const r = await runCliWithInput(['user', 'create', '--tenant', 'mx', '--email', 'max@mx.example',
      '--role', 'member', '--password-stdin', '--data', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
    const s = await startServer({
      dataDir: data, env: { CAIRN_LOCKOUT_WINDOW_S: '900', CAIRN_LOCKOUT_MAX_S: '2' },
    });
    const at = (password) => request(`${s.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'mx', email: 'max@mx.example', password },
    });
    for (let i = 0; i < 5; i++) assert.equal((await at(`wrong-password-${i}`)).status, 401);
    const locked = assertProblem(await at(PW), 429);
    assert.ok(locked.detail);
    await waitFor(async () => (await at(PW)).status === 200, 20_000, 'the capped lock to end');
  });
});
