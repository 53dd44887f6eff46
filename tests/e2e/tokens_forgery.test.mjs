// A copy of the database is no master key. What an attacker holding a database file or a
// `cairn backup` can do with the signing keys in it (nothing: they are sealed), and what
// even a correctly signed token cannot do without a live session behind it (made here
// with the key opened through the secrets key file, as an attacker holding both could):
// a session that never existed, another tenant, another role, a signed-out session. Then
// key retirement (after the grace, and at once with `cairn keys retire`), a database
// restored without its secrets key (serve exits 78), and the console's WebSocket
// authenticated by its cookie from its own origin only.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, existsSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  assertProblem, databaseUrl, dbExec, dbQuery, onPostgres, request, runCli, runCliWithInput, startServer,
  stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';
import { unsealSigningKey } from './lib/vault.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;
let dataDir;
const S = {}; // sign-ins: {json, claims}

const seg = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')).kid;
const nowS = () => Math.floor(Date.now() / 1000);

function sign(header, payload, key) {
  const h = seg(header);
  const p = seg(payload);
  const sig = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

/** [{kid, stored}] of a database (a data directory, or {file}), newest first. */
async function storedKeys(db) {
  const rows = await dbQuery(db, 'SELECT kid, secret FROM signing_keys ORDER BY created_at DESC');
  return rows.map(({ kid, secret }) => ({ kid, stored: secret }));
}

const cli = (args) => runCli([...args, '--data', dataDir]);
const me = (token) => request(`${srv.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });

async function signIn(tenant, email) {
  const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant, email, password: PW } });
  assert.equal(r.status, 200, r.text);
  return { json: r.json, claims: claimsOf(r.json.access_token) };
}

before(async () => {
  dataDir = tempDir('cairn-e2e-forgery-');
  for (const [slug, email, role] of [['alpha', 'amy@alpha.example', 'member'], ['beta', 'bob@beta.example', 'owner']]) {
    assert.equal((await cli(['tenant', 'create', '--slug', slug, '--name', slug])).code, 0);
    const r = await runCliWithInput(['user', 'create', '--tenant', slug, '--email', email, '--role', role,
      '--password-stdin', '--data', dataDir], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir });
  S.amy = await signIn('alpha', 'amy@alpha.example');
  S.bob = await signIn('beta', 'bob@beta.example');
});

describe('a copy of the database', () => {
  test('a backup holds no usable signing key: a token minted from it is refused', {
    skip: onPostgres && 'reads the file cairn backup writes, SQLite\'s; on PostgreSQL backups are pg_dump\'s',
  }, async () => {
    const file = path.join(tempDir('cairn-e2e-backup-'), 'copy.db');
    const b = await cli(['backup', file]);
    assert.equal(b.code, 0, b.stderr);
    const keys = await storedKeys({ file });
    assert.ok(keys.length >= 1);
    const real = unsealSigningKey(path.join(dataDir, 'secrets.key'), keys[0].kid, keys[0].stored);
    const bytes = readFileSync(file);
    for (const k of keys) assert.match(k.stored, /^v1:[0-9a-f]+$/, 'stored sealed');
    assert.ok(!bytes.includes(Buffer.from(real, 'hex')), 'the key bytes are nowhere in the file');
    assert.ok(!bytes.toString('latin1').includes(real), 'nor its hex');

    // what the holder of the backup would try: an owner token for another tenant, mfa on
    const now = nowS();
    const claims = { ...S.bob.claims, sub: S.amy.claims.sub, roles: ['owner'], mfa: true, iat: now, nbf: now, exp: now + 600 };
    const hdr = { alg: 'HS256', kid: keys[0].kid, typ: 'JWT' };
    for (const key of [Buffer.from(keys[0].stored.slice(3, 67), 'hex'), Buffer.from(keys[0].stored)]) {
      const p = assertProblem(await me(sign(hdr, claims, key)), 401);
      assert.match(p.detail, /signature/);
    }
  });
});

describe('a correctly signed token needs a live session that matches it', () => {
  let key;
  let kid;
  before(async () => {
    [{ kid }] = await storedKeys(dataDir);
    const [{ stored }] = await storedKeys(dataDir);
    key = Buffer.from(unsealSigningKey(path.join(dataDir, 'secrets.key'), kid, stored), 'hex');
  });
  const forge = (over) => {
    const now = nowS();
    return sign({ alg: 'HS256', kid, typ: 'JWT' }, { ...S.amy.claims, iat: now, nbf: now, exp: now + 600, ...over }, key);
  };

  test('the control: the same claims, signed by hand, are accepted', async () => {
    const r = await me(forge({}));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.role, 'member');
  });

  test('a session id that never existed is refused', async () => {
    const p = assertProblem(await me(forge({ sid: crypto.randomUUID() })), 401);
    assert.equal(p.detail, "the token's session does not exist");
  });

  test('a real session with another tenant or user in the token is refused', async () => {
    let p = assertProblem(await me(forge({ tid: S.bob.claims.tid })), 401);
    assert.equal(p.detail, 'the token does not match its session');
    p = assertProblem(await me(forge({ sub: S.bob.claims.sub })), 401);
    assert.equal(p.detail, 'the token does not match its session');
  });

  test('roles and mfa in the token are ignored: the session\'s count', async () => {
    const t = forge({ roles: ['owner'], mfa: true });
    const r = await me(t);
    assert.equal(r.status, 200);
    assert.equal(r.json.role, 'member');
    const sess = await request(`${srv.url}/api/v1/auth/session`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal(sess.status, 200, sess.text);
    assert.deepEqual(sess.json, {
      session_id: S.amy.claims.sid, tenant_id: S.amy.claims.tid, user_id: S.amy.claims.sub, role: 'member', mfa: false,
    });
    // creating a role needs roles.manage, which an owner has and a member has not
    const p = await request(`${srv.url}/api/v1/roles`, {
      method: 'POST', body: { name: 'forged', permissions: ['notes.read'] }, headers: { authorization: `Bearer ${t}` },
    });
    assertProblem(p, 403);
  });

  test('after logout-all, no token of those sessions works, forged or not', async () => {
    const amy2 = await signIn('alpha', 'amy@alpha.example');
    const r = await request(`${srv.url}/api/v1/auth/logout-all`, {
      method: 'POST', headers: { authorization: `Bearer ${amy2.json.access_token}` },
    });
    assert.equal(r.status, 200, r.text);
    assertProblem(await me(forge({})), 401);
    assertProblem(await me(forge({ sid: amy2.claims.sid, roles: ['owner'] })), 401);
    S.amy = await signIn('alpha', 'amy@alpha.example');
  });
});

describe('signing keys retire', () => {
  test('a key retired longer ago than a token lifetime verifies nothing', async () => {
    const before = await me(S.amy.json.access_token);
    assert.equal(before.status, 200);
    const oldKid = kidOf(S.amy.json.access_token);
    const r = await cli(['keys', 'rotate']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await me(S.amy.json.access_token)).status, 200, 'within its grace after a rotation');
    // as if the rotation was 17 minutes ago (a token lifetime is 15)
    const at = Date.now() - 17 * 60 * 1000;
    await dbExec(dataDir,
      `UPDATE signing_keys SET retired_at = ${at}, verify_until = ${at + 16 * 60 * 1000} WHERE kid = '${oldKid}'`);
    const p = await waitFor(async () => {
      const x = await me(S.amy.json.access_token);
      return x.status === 401 ? x : null;
    }, 5000, 'the retired key to stop verifying', 100);
    // A key seen retired says so, and its session goes on: the type tells a client to
    // refresh, as for an expired token. Once the key is dropped from the server's copy it
    // is unknown, like any made-up key.
    const kinds = { "the token's signing key was retired": 'token-expired', "the token's signing key is unknown": 'token-invalid' };
    const { detail, type } = assertProblem(p, 401);
    assert.equal(type, `urn:cairn:problem:${kinds[detail]}`, detail);
    // a new sign-in is signed with the new key and works
    S.amy = await signIn('alpha', 'amy@alpha.example');
    assert.notEqual(kidOf(S.amy.json.access_token), oldKid);
    assert.equal((await me(S.amy.json.access_token)).status, 200);
  });

  test('`cairn keys retire` ends every key but the newest at once, and says which', async () => {
    const oldKid = kidOf(S.amy.json.access_token);
    assert.equal((await cli(['keys', 'rotate'])).code, 0);
    // the running server signs with the new key within a second
    const fresh = await waitFor(async () => {
      const x = await signIn('alpha', 'amy@alpha.example');
      return kidOf(x.json.access_token) !== oldKid ? x : null;
    }, 5000, 'sign-ins to use the rotated-in key', 200);
    const newKid = kidOf(fresh.json.access_token);
    assert.notEqual(newKid, oldKid);
    const r = await cli(['keys', 'retire']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^retired signing key ${oldKid}$`, 'm'));
    assert.ok(!r.stdout.includes(newKid));
    assert.match(r.stdout, /signing keys retired; tokens they signed are refused from now on\n$/);
    await waitFor(async () => (await me(S.amy.json.access_token)).status === 401, 5000, 'the retired key to stop verifying', 100);
    assert.equal((await me(fresh.json.access_token)).status, 200);
    // a refresh token is not signed: the session continues with a token of the new key
    const ref = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: S.amy.json.refresh_token } });
    assert.equal(ref.status, 200, ref.text);
    assert.equal(kidOf(ref.json.access_token), newKid);
    // retiring an unknown key: exit 66 (no such item), naming it
    const bad = await cli(['keys', 'retire', 'knosuchkey']);
    assert.equal(bad.code, 66);
    assert.match(bad.stderr, /no signing key knosuchkey/);
    // retiring the signing key itself: a new one signs from then on
    const self = await cli(['keys', 'retire', newKid]);
    assert.equal(self.code, 0, self.stderr);
    assert.match(self.stdout, new RegExp(`^retired signing key ${newKid}$`, 'm'));
    await waitFor(async () => (await me(fresh.json.access_token)).status === 401, 5000, 'the retired key to stop verifying', 100);
    const after = await signIn('alpha', 'amy@alpha.example');
    assert.notEqual(kidOf(after.json.access_token), newKid);
    assert.equal((await me(after.json.access_token)).status, 200);
    S.amy = after;
  });
});

describe('the console\'s WebSocket', () => {
  test('its session cookie authenticates the upgrade from the same origin only', async () => {
    const login = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'alpha', email: 'amy@alpha.example', password: PW, cookie: true },
    });
    const cookie = [].concat(login.headers['set-cookie']).map((c) => c.split(';')[0]).join('; ');
    const first = (origin) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${srv.url.replace('http', 'ws')}/api/v1/realtime`, { headers: { cookie, origin } });
      const t = setTimeout(() => { ws.terminate(); resolve('nothing'); }, 1500);
      ws.on('message', (m) => { clearTimeout(t); ws.close(); resolve(JSON.parse(m).op); });
      ws.on('error', reject);
    });
    assert.equal(await first(srv.url), 'ready');
    assert.equal(await first('http://evil.example'), 'nothing', 'another site must authenticate itself');
  });
});

describe('a database restored without its secrets key', () => {
  test('serve refuses to start (78), naming auth.secrets_key_file and what does not open', async () => {
    const restored = tempDir('cairn-e2e-restored-');
    let env = {};
    if (onPostgres) {
      // the database as pg_restore or a shared server gives it: its data directory is new
      env = { CAIRN_DATABASE_URL: await databaseUrl(dataDir) };
    } else {
      const file = path.join(tempDir('cairn-e2e-restore-'), 'copy.db');
      assert.equal((await cli(['backup', file])).code, 0);
      copyFileSync(file, path.join(restored, 'cairn.db'));
    }
    await assert.rejects(startServer({ dataDir: restored, env }), (e) => {
      assert.match(e.message, /exited with 78/);
      assert.match(e.message, /auth\.secrets_key_file .*secrets\.key was missing/);
      assert.match(e.message, /signing keys and 0 TOTP secrets/);
      return true;
    });
    assert.ok(!existsSync(path.join(restored, 'secrets.key')), 'no new key was left behind');
    // with the key file put back beside it, the copy serves, and its sessions continue
    copyFileSync(path.join(dataDir, 'secrets.key'), path.join(restored, 'secrets.key'));
    const s2 = await startServer({ dataDir: restored, env });
    const r = await request(`${s2.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${S.amy.json.access_token}` } });
    assert.equal(r.status, 200, r.text);
    await s2.stop();
  });
});
