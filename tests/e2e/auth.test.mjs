// Identity and access: sign-in, tokens, refresh rotation and reuse detection, immediate
// sign-out, roles, tenant isolation, the CLI that manages tenants, users and keys, and an
// authorisation matrix over every operation of the OpenAPI document that needs a permission.
//
// Tenants and users are made with the CLI in a fresh data directory before the server
// starts. Passwords are hashed with argon2id (tens of ms each), so the number of users and
// sign-ins is kept small. Tests run in order; the last group restarts the server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { unsealSigningKey } from './lib/vault.mjs';
import {
  TOKEN, UUID_RE, api, assertProblem, dbExec, dbQuery, dbValue, rawExchange, request, runCli,
  runCliWithInput, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const WRONG = 'the tenant, e-mail or password is wrong';
const SIGNED_OUT = 'the session has been signed out';
// problem types a client acts on (docs/api.md): refresh, sign in again, or give up
const EXPIRED = 'urn:cairn:problem:token-expired';
const REVOKED = 'urn:cairn:problem:token-revoked';
const INVALID = 'urn:cairn:problem:token-invalid';
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;
// opaque to clients: URL-safe, with at least 256 bits of base64url secret
const REFRESH_RE = /^[A-Za-z0-9._-]*[A-Za-z0-9_-]{43}$/;

// Every user has a password of its own, so one user's password never opens another's account.
const USERS = {
  alice: { email: 'alice@acme.test', password: 'vivid-Otter-42-lantern' },
  ada: { email: 'ada@acme.test', password: 'gentle-Lynx-64-orchard' },
  mia: { email: 'mia@acme.test', password: 'quiet-Falcon-93-harbor' },
  vic: { email: 'vic@acme.test', password: 'amber-Walrus-17-compass' },
  lou: { email: 'lou@acme.test', password: 'brisk-Heron-58-meadow' },
  bob: { email: 'bob@globex.test', password: 'lucid-Badger-26-canyon' },
};

let dataDir;
let srv;
const ids = { tenant: {}, user: {} };
const S = {}; // sessions made in before(): {access_token, refresh_token, ...}
let aliceLogin; // the raw response of alice's first sign-in

// ---- helpers ----

const cli = (args) => runCli([...args, '--data', dataDir]);
const createUser = (tenant, who, role, password = USERS[who]?.password) =>
  runCliWithInput(['user', 'create', '--tenant', tenant, '--email', USERS[who]?.email ?? who,
    '--role', role, '--password-stdin', '--data', dataDir], `${password}\n`);

/** A client with a bearer token; null means anonymous. */
const as = (token) => api(srv.url, token ?? null);
const anon = () => api(srv.url, null);

function login(tenant, email, password) {
  return request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant, email, password } });
}

async function session(tenant, who) {
  const r = await login(tenant, USERS[who].email, USERS[who].password);
  assert.equal(r.status, 200, `sign-in of ${who} in ${tenant}: ${r.text}`);
  return r.json;
}

function refresh(refreshToken) {
  return request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: refreshToken } });
}

const seg = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const decode = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
function parts(jwt) {
  const [h, p, sig] = jwt.split('.');
  return { header: decode(h), payload: decode(p), h, p, sig };
}

/** The signing keys in the database, newest first: [{kid, secret}], each opened with the
 * server's secrets key file (the database holds them sealed). */
async function signingKeys() {
  const rows = await dbQuery(dataDir, 'SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid DESC');
  return rows.map(({ kid, secret }) => ({ kid, secret: unsealSigningKey(path.join(dataDir, 'secrets.key'), kid, secret) }));
}

/** An HS256 token for any header and claims, signed with a key of the server. */
function sign(header, payload, secretHex) {
  const h = seg(header);
  const p = seg(payload);
  const sig = crypto.createHmac('sha256', Buffer.from(secretHex, 'hex')).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

const nowS = () => Math.floor(Date.now() / 1000);

/** CPU time (ms) the server process has used so far, all its threads together. */
function serverCpuMs() {
  let ns = 0;
  for (const t of readdirSync(`/proc/${srv.proc.pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${srv.proc.pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* the thread ended meanwhile */ }
  }
  return ns / 1e6;
}

before(async () => {
  dataDir = tempDir('cairn-e2e-auth-');
  for (const [slug, name] of [['acme', 'Acme Corp'], ['globex', 'Globex Inc.']]) {
    const r = await cli(['tenant', 'create', '--slug', slug, '--name', name]);
    assert.equal(r.code, 0, r.stderr);
    ids.tenant[slug] = r.stdout.trim();
    assert.match(ids.tenant[slug], UUID_RE);
  }
  for (const [tenant, who, role] of [['acme', 'alice', 'owner'], ['acme', 'ada', 'admin'],
    ['acme', 'mia', 'member'], ['acme', 'vic', 'viewer'], ['acme', 'lou', 'member'], ['globex', 'bob', 'owner']]) {
    const r = await createUser(tenant, who, role);
    assert.equal(r.code, 0, `${who}: ${r.stderr}`);
    ids.user[who] = r.stdout.trim();
    assert.match(ids.user[who], UUID_RE);
  }
  // existing users join a second tenant: same user id, no new account
  for (const [who, role] of [['alice', 'member'], ['lou', 'viewer']]) {
    const r = await createUser('globex', who, role);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), ids.user[who]);
  }
  srv = await startServer({ dataDir });
  aliceLogin = await login('acme', USERS.alice.email, USERS.alice.password);
  assert.equal(aliceLogin.status, 200, aliceLogin.text);
  S.alice = aliceLogin.json;
  [S.vic, S.bob] = await Promise.all([session('acme', 'vic'), session('globex', 'bob')]);
});

// ---- sign-in ----

describe('sign-in', () => {
  test('a successful sign-in returns a bearer token pair, not to be cached', () => {
    const r = aliceLogin;
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.expires_in, 900);
    assert.match(r.json.access_token, JWT_RE);
    assert.match(r.json.refresh_token, REFRESH_RE);

    const { header, payload } = parts(r.json.access_token);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.typ, 'JWT');
    assert.match(header.kid, /^k[0-9a-f]{16}$/);
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'mfa', 'nbf', 'roles', 'sid', 'sub', 'tid']);
    assert.equal(payload.mfa, false, 'a password-only session');
    assert.equal(payload.iss, 'cairn');
    assert.equal(payload.aud, 'cairn-api');
    assert.equal(payload.sub, ids.user.alice);
    assert.equal(payload.tid, ids.tenant.acme);
    assert.deepEqual(payload.roles, ['owner']);
    assert.match(payload.sid, UUID_RE);
    assert.ok(Math.abs(payload.iat - nowS()) < 120, `iat ${payload.iat} is in seconds and recent`);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(payload.exp, payload.iat + 900);
  });

  test('the e-mail is case-insensitive; each sign-in is a session of its own', async () => {
    const r = await login('acme', 'Alice@ACME.test', USERS.alice.password);
    assert.equal(r.status, 200, r.text);
    const a = parts(r.json.access_token).payload;
    assert.equal(a.sub, ids.user.alice);
    assert.notEqual(a.sid, parts(S.alice.access_token).payload.sid);
    assert.notEqual(r.json.refresh_token, S.alice.refresh_token);
  });

  test('wrong password, unknown e-mail, unknown tenant and another tenant all get the same 401', async () => {
    const cases = [
      ['acme', USERS.alice.email, 'wrong-Otter-42-lantern'],
      ['acme', 'nobody@acme.test', USERS.alice.password],
      ['initech', USERS.alice.email, USERS.alice.password],
      ['globex', USERS.vic.email, USERS.vic.password], // vic is not a member of globex
      ['acme', USERS.vic.email, USERS.alice.password], // another user's password
    ];
    const cpu = [];
    const problems = [];
    for (const [tenant, email, password] of cases) {
      const before = serverCpuMs();
      const r = await login(tenant, email, password);
      cpu.push(serverCpuMs() - before);
      const p = assertProblem(r, 401);
      assert.equal(p.detail, WRONG, `${tenant}/${email}`);
      assert.equal(r.json.access_token, undefined);
      problems.push({ type: p.type, title: p.title, status: p.status, detail: p.detail, keys: Object.keys(p).sort() });
    }
    for (const p of problems) assert.deepEqual(p, problems[0]);
    // Unknown accounts are checked against a dummy hash: each case costs the server an
    // argon2id verification's CPU time, like a real sign-in. (CPU time, unlike the wall
    // clock, does not grow with the load on the machine; without the dummy hash an
    // unknown account would cost a few percent of a real one.)
    const real = [];
    for (let i = 0; i < 3; i++) {
      const before = serverCpuMs();
      assert.equal((await login('acme', USERS.mia.email, USERS.mia.password)).status, 200);
      real.push(serverCpuMs() - before);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const [i, ms] of cpu.entries())
      assert.ok(ms > median(real) * 0.3,
        `case ${i} cost ${ms.toFixed(1)} ms of server CPU, a real sign-in ${real.map((x) => x.toFixed(1)).join(', ')} ms`);
  });

  test('the next request on the connection of a sign-in is answered at once', async () => {
    // A client signs in and goes on over the same keep-alive connection. The sign-in is
    // answered outside h2o's callbacks (from a worker's completion, after the commit); if
    // the loop then slept before re-arming the connection's reads, the next request
    // would wait for the loop's next wake-up (the access-log flush, 100 ms). The wait is
    // compared with the same request after a plain GET on a connection of its own, in
    // interleaved rounds, so a loaded machine slows both alike.
    const body = JSON.stringify({ tenant: 'acme', email: USERS.mia.email, password: USERS.mia.password });
    const loginReq = 'POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const token = JSON.parse((await rawExchange(srv.port, loginReq, { timeoutMs: 15_000 })).responses[0].body).access_token;
    const meReq = (t) => `GET /api/v1/users/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${t}\r\n\r\n`;
    /** ms from sending GET /users/me to its answer, on the connection that just answered first */
    async function waitAfter(first, meToken) {
      const { responses, socket } = await rawExchange(srv.port, first, { timeoutMs: 15_000 });
      try {
        assert.equal(responses[0].status, 200, responses[0].body);
        const t = meToken ?? JSON.parse(responses[0].body).access_token;
        const t0 = performance.now();
        const me = await rawExchange(srv.port, meReq(t), { socket, timeoutMs: 5000 });
        const ms = performance.now() - t0;
        assert.equal(me.responses[0].status, 200);
        assert.equal(JSON.parse(me.responses[0].body).id, ids.user.mia);
        return ms;
      } finally {
        socket.destroy();
      }
    }
    const afterSignIn = [];
    const afterPlain = [];
    for (let i = 0; i < 5; i++) {
      afterSignIn.push(await waitAfter(loginReq));
      afterPlain.push(await waitAfter('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n', token));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const fmt = (xs) => xs.map((w) => w.toFixed(0)).join(', ');
    assert.ok(median(afterSignIn) < 3 * median(afterPlain) + 40,
      `GET /users/me took ${fmt(afterSignIn)} ms after a sign-in, ${fmt(afterPlain)} ms after a plain GET`);
  });

  test('a sign-in without its fields is a validation error, not a 401', async () => {
    const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant: 'acme' } });
    const p = assertProblem(r, 422);
    assert.deepEqual(p.errors.map((e) => e.field).sort(), ['email', 'password']);
  });
});

// ---- the caller ----

describe('users/me', () => {
  test('describes the user, its role and its tenant', async () => {
    const r = await as(S.alice.access_token).get('/api/v1/users/me');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      id: ids.user.alice, email: 'alice@acme.test', role: 'owner',
      tenant: { id: ids.tenant.acme, slug: 'acme', name: 'Acme Corp' },
    });
    const v = await as(S.vic.access_token).get('/api/v1/users/me');
    assert.deepEqual(v.json, {
      id: ids.user.vic, email: 'vic@acme.test', role: 'viewer',
      tenant: { id: ids.tenant.acme, slug: 'acme', name: 'Acme Corp' },
    });
  });

  test('the same user in another tenant has that tenant and role', async () => {
    const g = await session('globex', 'alice');
    assert.deepEqual(parts(g.access_token).payload.roles, ['member']);
    const r = await as(g.access_token).get('/api/v1/users/me');
    assert.deepEqual(r.json, {
      id: ids.user.alice, email: 'alice@acme.test', role: 'member',
      tenant: { id: ids.tenant.globex, slug: 'globex', name: 'Globex Inc.' },
    });
    S.aliceGlobex = g;
  });

  test('anonymous is 401; the operator token has no user behind it', async () => {
    const p = assertProblem(await anon().get('/api/v1/users/me'), 401);
    assert.ok(p.detail.length > 0);
    const op = await api(srv.url, TOKEN).get('/api/v1/users/me');
    assertProblem(op, 404);
  });
});

// ---- notes with user tokens ----

describe('notes with user tokens', () => {
  test('an access token works on the notes API', async () => {
    const c = as(S.alice.access_token);
    const created = await c.post('/api/v1/notes', { title: 'alice note', body: 'acme only' });
    assert.equal(created.status, 201, created.text);
    const got = await c.get(`/api/v1/notes/${created.json.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, created.json);
    const list = await c.get('/api/v1/notes');
    assert.ok(list.json.items.some((n) => n.id === created.json.id));
  });

  test('a viewer reads but cannot write; a member writes', async () => {
    const { json: note } = await as(S.alice.access_token).post('/api/v1/notes', { title: 'readable' });
    const v = as(S.vic.access_token);
    let p = assertProblem(await v.post('/api/v1/notes', { title: 'nope' }), 403);
    assert.equal(p.detail, 'this needs the permission notes.write');
    p = assertProblem(await v.patch(`/api/v1/notes/${note.id}`, { title: 'changed' }), 403);
    assert.equal(p.detail, 'this needs the permission notes.write');
    p = assertProblem(await v.delete(`/api/v1/notes/${note.id}`), 403);
    assert.equal(p.detail, 'this needs the permission notes.write');
    const list = await v.get('/api/v1/notes?limit=200');
    assert.equal(list.status, 200);
    assert.ok(list.json.items.some((n) => n.id === note.id));
    assert.ok(!list.json.items.some((n) => n.title === 'nope'), 'the refused note was not created');
    const got = await v.get(`/api/v1/notes/${note.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.title, 'readable', 'the refused PATCH changed nothing');

    const m = as((await session('acme', 'mia')).access_token);
    const mine = await m.post('/api/v1/notes', { title: 'by a member' });
    assert.equal(mine.status, 201, mine.text);
    assert.equal((await m.patch(`/api/v1/notes/${note.id}`, { title: 'edited by mia' })).status, 200);
    assert.equal((await m.delete(`/api/v1/notes/${mine.json.id}`)).status, 204);
  });

  test("another tenant's note is 404 for GET, PATCH and DELETE and is not listed", async () => {
    const a = as(S.alice.access_token);
    const { json: note } = await a.post('/api/v1/notes', { title: 'acme secret', body: 'x' });
    for (const token of [S.bob.access_token, S.aliceGlobex.access_token, TOKEN]) {
      const other = api(srv.url, token);
      assertProblem(await other.get(`/api/v1/notes/${note.id}`), 404);
      assertProblem(await other.patch(`/api/v1/notes/${note.id}`, { title: 'pwned' }), 404);
      assertProblem(await other.delete(`/api/v1/notes/${note.id}`), 404);
      const list = await other.get('/api/v1/notes?limit=200');
      assert.equal(list.status, 200);
      assert.ok(!list.json.items.some((n) => n.id === note.id || n.title === 'acme secret'));
    }
    // and the note is untouched for its own tenant
    const got = await a.get(`/api/v1/notes/${note.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, note);
    // the other way round too
    const { json: theirs } = await as(S.bob.access_token).post('/api/v1/notes', { title: 'globex only' });
    assertProblem(await a.get(`/api/v1/notes/${theirs.id}`), 404);
    assert.equal((await as(S.aliceGlobex.access_token).get(`/api/v1/notes/${theirs.id}`)).status, 200);
  });
});

// ---- refresh, reuse, sign-out ----

describe('refresh and sign-out', () => {
  test('refresh rotates the refresh token; earlier access tokens work until sign-out', async () => {
    const s1 = await session('acme', 'mia');
    const r2 = await refresh(s1.refresh_token);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(r2.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(r2.json.token_type, 'Bearer');
    assert.equal(r2.json.expires_in, 900);
    assert.match(r2.json.access_token, JWT_RE);
    assert.match(r2.json.refresh_token, REFRESH_RE);
    assert.notEqual(r2.json.refresh_token, s1.refresh_token);
    const c1 = parts(s1.access_token).payload;
    const c2 = parts(r2.json.access_token).payload;
    assert.equal(c2.sid, c1.sid, 'same session');
    assert.equal(c2.sub, ids.user.mia);
    assert.deepEqual(c2.roles, ['member']);
    assert.ok(c2.exp >= c1.exp);

    // a chain of refreshes
    const r3 = await refresh(r2.json.refresh_token);
    assert.equal(r3.status, 200, r3.text);
    assert.notEqual(r3.json.refresh_token, r2.json.refresh_token);

    for (const t of [s1.access_token, r2.json.access_token, r3.json.access_token])
      assert.equal((await as(t).get('/api/v1/users/me')).json.id, ids.user.mia);

    const out = await as(r3.json.access_token).post('/api/v1/auth/logout');
    assert.equal(out.status, 204);
    assert.equal(out.text, '');
    for (const t of [s1.access_token, r2.json.access_token, r3.json.access_token]) {
      const p = assertProblem(await as(t).get('/api/v1/users/me'), 401);
      assert.equal(p.detail, SIGNED_OUT);
    }
    const p = assertProblem(await refresh(r3.json.refresh_token), 401);
    assert.equal(p.detail, 'the session has ended; sign in again');
  });

  test('reusing a rotated refresh token revokes the whole session at once', async () => {
    const s1 = await session('acme', 'mia');
    const r2 = await refresh(s1.refresh_token);
    assert.equal(r2.status, 200, r2.text);
    assert.equal((await as(r2.json.access_token).get('/api/v1/users/me')).status, 200);

    const reuse = await refresh(s1.refresh_token);
    let p = assertProblem(reuse, 401);
    assert.equal(p.detail, 'this refresh token was already used; the session is revoked');
    assert.equal(reuse.json.access_token, undefined);

    // the thief's and the owner's current tokens are dead, on the very next request
    for (const t of [r2.json.access_token, s1.access_token]) {
      p = assertProblem(await as(t).get('/api/v1/users/me'), 401);
      assert.equal(p.detail, SIGNED_OUT);
    }
    p = assertProblem(await refresh(r2.json.refresh_token), 401);
    assert.equal(p.detail, 'the session has ended; sign in again');
    p = assertProblem(await refresh(s1.refresh_token), 401);
    assert.equal(p.detail, 'the session has ended; sign in again');
    // other sessions of the same user are not affected
    assert.equal((await as(S.alice.access_token).get('/api/v1/users/me')).status, 200);
  });

  test('the same refresh token sent many times at once rotates once; the copies revoke the session', async () => {
    // Copies of one token arriving together (several may land in one loop turn's write
    // batch): exactly one rotates, and every other copy counts as reuse.
    const s1 = await session('acme', 'mia');
    const answers = await Promise.all(Array.from({ length: 12 }, () => refresh(s1.refresh_token)));
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(ok.length, 1, answers.map((a) => a.status).join(' '));
    for (const a of answers.filter((x) => x.status !== 200)) {
      const p = assertProblem(a, 401);
      assert.match(p.detail, /already used; the session is revoked|the session has ended/);
    }
    const p = assertProblem(await refresh(ok[0].json.refresh_token), 401);
    assert.equal(p.detail, 'the session has ended; sign in again');
  });

  test('an unknown or missing refresh token is 401; a malformed request is 422', async () => {
    let p = assertProblem(await refresh(crypto.randomBytes(32).toString('base64url')), 401);
    assert.equal(p.detail, 'the refresh token is not valid');
    const rt = S.alice.refresh_token;
    const at = rt.length - 10; // in the secret part, whatever the token's format
    p = assertProblem(await refresh(rt.slice(0, at) + (rt[at] === 'A' ? 'B' : 'A') + rt.slice(at + 1)), 401);
    assert.equal(p.detail, 'the refresh token is not valid');
    p = assertProblem(await refresh(parts(S.alice.access_token).sig), 401); // any other string
    assert.equal(p.detail, 'the refresh token is not valid');
    // without a token in the body the refresh cookie is used; with neither, 401
    p = assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: {} }), 401);
    assert.equal(p.detail, 'give refresh_token, or send the session cookies');
    assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: 5 } }), 422);
    // none of these touched alice's session
    assert.equal((await as(S.alice.access_token).get('/api/v1/users/me')).status, 200);
  });

  test('a made-up refresh token naming a real session does not end it', async () => {
    // The session id is no secret: it is in every access token's readable payload (and in
    // expired ones). Only a copy of a refresh token that was really issued proves reuse.
    const s1 = await session('acme', 'mia');
    const r2 = await refresh(s1.refresh_token);
    assert.equal(r2.status, 200, r2.text);
    const { sid } = parts(s1.access_token).payload;
    const secret = crypto.randomBytes(32).toString('base64url');
    for (const forged of [`${sid}.0.${secret}`, `${sid}.1.${secret}`, `${sid}.${secret}`, `${sid}`]) {
      const r = await refresh(forged);
      assertProblem(r, 401);
      assert.equal(r.json.access_token, undefined);
    }
    const me = await as(r2.json.access_token).get('/api/v1/users/me');
    assert.equal(me.status, 200, `the session was ended by a forged refresh token: ${me.text}`);
    const r3 = await refresh(r2.json.refresh_token);
    assert.equal(r3.status, 200, r3.text);
  });

  test('after sign-out the very next request is refused, on every connection and thread', async () => {
    const s = await session('acme', 'mia');
    const c = as(s.access_token);
    assert.equal((await c.get('/api/v1/users/me')).status, 200);
    assert.equal((await c.post('/api/v1/auth/logout')).status, 204);
    const headers = { authorization: `Bearer ${s.access_token}` };
    // one after another over new connections, then many at once
    for (let i = 0; i < 12; i++) {
      const r = await request(`${srv.url}/api/v1/notes`, { headers, keepAlive: false });
      const p = assertProblem(r, 401);
      assert.equal(p.detail, SIGNED_OUT, `request ${i}`);
      assert.equal(p.type, REVOKED, 'a signed-out session is "revoked": refreshing will not help');
    }
    const burst = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      request(`${srv.url}/api/v1/${i % 2 ? 'notes' : 'users/me'}`, { headers, keepAlive: false })));
    for (const r of burst) assert.equal(assertProblem(r, 401).detail, SIGNED_OUT);
    // signing out twice is refused too
    assert.equal(assertProblem(await c.post('/api/v1/auth/logout'), 401).detail, SIGNED_OUT);
    assert.equal(assertProblem(await refresh(s.refresh_token), 401).detail, 'the session has ended; sign in again');
  });

  test('sign-out with the operator token is a 400: there is no session', async () => {
    let p = assertProblem(await api(srv.url, TOKEN).post('/api/v1/auth/logout'), 400);
    assert.equal(p.detail, 'this credential has no session to sign out');
    p = assertProblem(await api(srv.url, TOKEN).post('/api/v1/auth/logout-all'), 400);
    assert.equal(p.detail, 'this credential has no session to sign out');
    assert.equal((await api(srv.url, TOKEN).get('/api/v1/notes')).status, 200, 'the token still works');
  });

  test("logout-all ends every session of the user in that tenant, and only those", async () => {
    const [a, b, g] = await Promise.all([session('acme', 'lou'), session('acme', 'lou'), session('globex', 'lou')]);
    const b2 = await refresh(b.refresh_token); // a session with two access tokens
    assert.equal(b2.status, 200);
    const r = await as(a.access_token).post('/api/v1/auth/logout-all');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { revoked_sessions: 2 });
    for (const t of [a.access_token, b.access_token, b2.json.access_token])
      assert.equal(assertProblem(await as(t).get('/api/v1/users/me'), 401).detail, SIGNED_OUT);
    for (const rt of [a.refresh_token, b2.json.refresh_token])
      assertProblem(await refresh(rt), 401);
    // lou in globex, and everyone else, keep their sessions
    const me = await as(g.access_token).get('/api/v1/users/me');
    assert.equal(me.status, 200);
    assert.equal(me.json.tenant.slug, 'globex');
    assert.equal((await as(S.alice.access_token).get('/api/v1/users/me')).status, 200);
    assert.equal((await as(S.vic.access_token).get('/api/v1/users/me')).status, 200);
    // and logout-all from globex counts only that one
    const again = await as(g.access_token).post('/api/v1/auth/logout-all');
    assert.deepEqual(again.json, { revoked_sessions: 1 });
    assertProblem(await as(g.access_token).get('/api/v1/users/me'), 401);
  });
});

// ---- forged and damaged tokens ----

describe('forged and damaged tokens', () => {
  test('a changed payload, a changed signature, "alg":"none" and garbage are 401 problems', async () => {
    const { header, payload, h, p, sig } = parts(S.vic.access_token);
    const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const promoted = seg({ ...payload, roles: ['owner'] });
    const extended = seg({ ...payload, exp: payload.exp + 86400 });
    const cases = [
      [`${h}.${flip(p, Math.floor(p.length / 2))}.${sig}`, /signature is not valid/],
      [`${h}.${p}.${flip(sig, 10)}`, /signature is not valid/],
      [`${h}.${p}.`, null],
      [`${h}.${p}`, null],
      [`${h}.${promoted}.${sig}`, /signature is not valid/],
      [`${h}.${extended}.${sig}`, /signature is not valid/],
      [`${seg({ alg: 'none', kid: header.kid })}.${p}.`, /HS256/],
      [`${seg({ alg: 'none', kid: header.kid, typ: 'JWT' })}.${promoted}.`, /HS256/],
      [`${seg({ ...header, alg: 'HS512' })}.${p}.${sig}`, /HS256/],
      [`${seg({ ...header, alg: 'RS256' })}.${p}.${sig}`, /HS256/],
      [`${seg({ ...header, kid: 'k0000000000000000' })}.${p}.${sig}`, /signing key is unknown/],
      [`${S.vic.access_token}.`, null],
      ['a.b.c', null],
      ['..', null],
      [`${'A'.repeat(3000)}.${'B'.repeat(1000)}.${'C'.repeat(1000)}`, null],
    ];
    for (const [token, detail] of cases) {
      const r = await request(`${srv.url}/api/v1/notes`, { headers: { authorization: `Bearer ${token}` } });
      const prob = assertProblem(r, 401);
      assert.equal(prob.type, INVALID, token.slice(0, 60));
      if (detail) assert.match(prob.detail, detail, token.slice(0, 60));
      assert.equal(r.json.items, undefined);
    }
    // the untouched token still works, with the scheme in any case (RFC 9110)
    const ok = await request(`${srv.url}/api/v1/users/me`, { headers: { authorization: `bearer ${S.vic.access_token}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.role, 'viewer');
  });

  test('a token signed with the server key is honoured only within its validity and audience', async () => {
    const [{ kid, secret }] = await signingKeys();
    const { payload } = parts(S.vic.access_token);
    const now = nowS();
    const claims = { ...payload, iat: now, nbf: now, exp: now + 300 };
    const hdr = { alg: 'HS256', kid, typ: 'JWT' };
    const call = (t) => request(`${srv.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${t}` } });

    // the control: built correctly by hand, it is accepted
    const ok = await call(sign(hdr, claims, secret));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.id, ids.user.vic);

    const refusals = [
      [{ ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 100 }, 'the token has expired', EXPIRED],
      [{ ...claims, exp: now - 1 }, 'the token has expired', EXPIRED],
      [{ ...claims, nbf: now + 600, exp: now + 1200 }, 'the token is not valid yet', INVALID],
      [{ ...claims, aud: 'another-api' }, 'the token was not issued for this API', INVALID],
      [{ ...claims, iss: 'someone-else' }, 'the token was not issued for this API', INVALID],
      [{ ...claims, exp: String(now + 300) }, 'the token lacks its validity times', INVALID],
      [{ ...claims, roles: 'owner' }, 'the token lacks required claims', INVALID],
      [(({ sid, ...rest }) => rest)(claims), 'the token lacks required claims', INVALID],
      [{ ...claims, sid: crypto.randomUUID() }, "the token's session does not exist", INVALID],
    ];
    for (const [c, detail, type] of refusals) {
      const p = assertProblem(await call(sign(hdr, c, secret)), 401);
      assert.equal(p.detail, detail, JSON.stringify(c));
      assert.equal(p.type, type, JSON.stringify(c));
    }
    // signed with the right key but the wrong algorithm in the header
    const p = assertProblem(await call(sign({ ...hdr, alg: 'HS512' }, claims, secret)), 401);
    assert.match(p.detail, /HS256/);
  });
});

// ---- the CLI ----

describe('CLI', () => {
  test('weak passwords are refused with exit 65 and a reason; nothing is created', async () => {
    const cases = [
      ['password1234', /the password is on the list of commonly used passwords/],
      ['Password123!', /the password is on the list of commonly used passwords/],
      ['short-Pw-1', /the password must be at least 12 characters/],
      ['xx-weakling@acme.test-42', /the password must not contain the e-mail address/],
      ['Weakling-Otter-42', /the password must not contain the e-mail address/],
      ['aaaaaaaaaaaaaaaa', /DIFFERENT characters/],
    ];
    for (const [pw, reason] of cases) {
      const r = await createUser('acme', 'weakling@acme.test', 'member', pw);
      assert.equal(r.code, 65, `${pw}: ${r.stderr}`);
      assert.match(r.stderr, /^cairn user create: /);
      assert.match(r.stderr, reason);
      assert.equal(r.stdout, '');
    }
    assert.equal(await dbValue(dataDir, "SELECT count(*) FROM users WHERE email = 'weakling@acme.test'"), 0);
  });

  test('other refusals: duplicate membership (1), unknown tenant (66), bad role (65), no password (64)', async () => {
    let r = await createUser('acme', 'alice', 'viewer');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /alice@acme\.test is already a member of acme/);
    r = await createUser('initech', 'alice', 'owner');
    assert.equal(r.code, 66, r.stderr);
    assert.match(r.stderr, /no tenant with slug initech/);
    r = await createUser('acme', 'newbie@acme.test', 'superuser', 'vivid-Otter-42-lantern');
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /--role: must be one of owner, admin, member, viewer/);
    r = await createUser('acme', 'not-an-email', 'member', 'vivid-Otter-42-lantern');
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /--email/);
    r = await runCliWithInput(['user', 'create', '--tenant', 'acme', '--email', 'newbie@acme.test',
      '--role', 'member', '--password-stdin', '--data', dataDir], '');
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /no password read/);
    // the role of an existing member was not changed by the refused second membership
    assert.equal(await dbValue(dataDir, `SELECT role FROM memberships WHERE user_id = '${ids.user.alice}' AND tenant_id = '${ids.tenant.acme}'`), 'owner');
    assert.equal(await dbValue(dataDir, "SELECT count(*) FROM users WHERE email = 'newbie@acme.test'"), 0);

    r = await cli(['tenant', 'create', '--slug', 'acme', '--name', 'Again']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /a tenant with slug acme exists/);
    r = await cli(['tenant', 'create', '--slug', 'Bad Slug', '--name', 'x']);
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /--slug/);
  });

  test('a user created while the server runs can sign in at once', async () => {
    const pw = 'sturdy-Marmot-71-lagoon';
    const r = await createUser('globex', 'newcomer@globex.test', 'viewer', pw);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, UUID_RE);
    const s = await login('globex', 'newcomer@globex.test', pw);
    assert.equal(s.status, 200, s.text);
    const me = await as(s.json.access_token).get('/api/v1/users/me');
    assert.deepEqual(me.json, {
      id, email: 'newcomer@globex.test', role: 'viewer',
      tenant: { id: ids.tenant.globex, slug: 'globex', name: 'Globex Inc.' },
    });
    // and only in that tenant
    assertProblem(await login('acme', 'newcomer@globex.test', pw), 401);
  });
});

// ---- authorisation matrix over the OpenAPI document ----

describe('authorisation matrix', () => {
  // Who held each permission when the grants still followed from the name ("*.manage":
  // owners and admins, "*.read": everyone, the rest: members up). Modules now declare their
  // roles; these must not have moved. A permission added later is checked against its own
  // declaration only (x-roles below), never against a rule written here.
  const ADMINS = ['owner', 'admin'];
  const MEMBERS = [...ADMINS, 'member'];
  const ALL = [...MEMBERS, 'viewer'];
  const BEFORE = {
    'api_keys.manage': ADMINS, 'audit.manage': ADMINS, 'roles.manage': ADMINS,
    'tenant.manage': ADMINS, 'users.manage': ADMINS, 'users.read': ALL, 'self.read': ALL,
    'self.delete': ALL, 'self.sessions': ALL, 'platform.tenants': [], 'jobs.manage': ADMINS,
    'realtime.read': ALL, 'notes.read': ALL, 'notes.write': MEMBERS, 'insights.read': ALL,
    'insights.write': MEMBERS, 'insights.manage': ADMINS,
  };

  function fillPath(p, op) {
    const value = (s) => {
      if (s.format === 'uuid' || !s.type) return crypto.randomUUID();
      if (s.type === 'integer') return '1';
      return 'x';
    };
    const path = p.replace(/\{([^}]+)\}/g, (_, name) => {
      const prm = (op.parameters ?? []).find((x) => x.in === 'path' && x.name === name);
      return value(prm?.schema ?? {});
    });
    // required query parameters get a value, so the probes below reach the body check
    const query = (op.parameters ?? []).filter((x) => x.in === 'query' && x.required)
      .map((x) => `${x.name}=${value(x.schema ?? {})}`);
    return query.length ? `${path}?${query.join('&')}` : path;
  }

  test('every operation that needs a permission refuses anonymous callers and roles without it', async () => {
    const doc = (await anon().get('/api/openapi.json')).json;
    assert.equal(typeof doc.paths, 'object');
    const ops = [];
    for (const [p, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
        if (op['x-permission'] === undefined && op['x-auth'] === 'handler') {
          // the handler checks the credential itself (the realtime upgrade)
          assert.deepEqual(op.security, [{ bearer: [] }, { apiKey: [] }, { cookie: [] }], `${method} ${p}`);
          continue;
        }
        if (op['x-permission'] === undefined) {
          assert.deepEqual(op.security, [], `${method} ${p} is public`);
          continue;
        }
        // the operator's token alone for platform routes; any credential elsewhere
        const schemes = op['x-permission'].startsWith('platform.') ? [{ bearer: [] }]
          : [{ bearer: [] }, { apiKey: [] }, { cookie: [] }];
        assert.deepEqual(op.security, schemes, `${method} ${p} documents its credentials`);
        assert.ok(Array.isArray(op['x-roles']), `${method} ${p} documents its roles`);
        ops.push({ method: method.toUpperCase(), path: p, op, perm: op['x-permission'], roles: op['x-roles'] });
      }
    // the matrix is not vacuous: today's operations are all in it
    const names = new Set(ops.map((o) => `${o.method} ${o.path} ${o.perm}`));
    for (const known of ['POST /api/v1/notes notes.write', 'GET /api/v1/notes notes.read',
      'GET /api/v1/notes/{id} notes.read', 'PATCH /api/v1/notes/{id} notes.write',
      'DELETE /api/v1/notes/{id} notes.write', 'GET /api/v1/users/me self.read',
      'POST /api/v1/auth/logout self.sessions', 'POST /api/v1/auth/logout-all self.sessions'])
      assert.ok(names.has(known), `${known} is in the document`);

    // the document's roles are the modules' declarations: the same as GET /api/v1/roles
    // says each built-in role holds, and, for the permissions that existed, as before
    const builtin = Object.fromEntries((await as(S.alice.access_token).get('/api/v1/roles')).json.items
      .filter((r) => r.builtin).map((r) => [r.name, r.permissions]));
    assert.deepEqual(Object.keys(builtin), ['owner', 'admin', 'member', 'viewer']);
    for (const { perm, roles } of ops) {
      for (const [role, perms] of Object.entries(builtin))
        assert.equal(perms.includes(perm), roles.includes(role), `${role} and ${perm}`);
      if (BEFORE[perm]) assert.deepEqual(roles, BEFORE[perm], `${perm} is granted as before`);
    }
    for (const [perm, roles] of Object.entries(BEFORE))
      assert.deepEqual(Object.keys(builtin).filter((r) => builtin[r].includes(perm)), roles, perm);

    const [mia, ada] = await Promise.all([session('acme', 'mia'), session('acme', 'ada')]);
    const tokens = { owner: S.alice.access_token, admin: ada.access_token, member: mia.access_token, viewer: S.vic.access_token };
    let denied = 0;
    let allowed = 0;
    for (const { method, path: p, op, perm, roles } of ops) {
      const url = srv.url + fillPath(p, op);
      const what = `${method} ${p} (${perm})`;
      const normal = (headers) => request(url, {
        method, headers, body: op.requestBody ? {} : undefined,
      });

      // no credentials, a bogus one, a bogus bearer token
      for (const [headers, type] of [[{}, 'unauthorized'], [{ authorization: 'Bearer not-a-token' }, 'token-invalid'],
        [{ authorization: 'Bearer a.b.c' }, 'token-invalid'], [{ authorization: 'Basic YTpi' }, 'unauthorized']]) {
        const r = await normal(headers);
        assert.equal(assertProblem(r, 401).type, `urn:cairn:problem:${type}`, `${what} ${JSON.stringify(headers)}`);
      }

      for (const [role, token] of Object.entries(tokens)) {
        const auth = { authorization: `Bearer ${token}` };
        if (roles.includes(role)) {
          // Past authentication and authorisation, a request the kernel refuses before the
          // handler runs: so nothing happens (no note written, no session ended).
          const probe = op.requestBody
            ? await request(url, { method, headers: auth })
            : await request(url, { method, headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
          const prob = assertProblem(probe, 400);
          const json = op.requestBody?.content?.['application/json'] !== undefined;
          const expected = !op.requestBody ? 'this endpoint takes no request body'
            : json ? 'a JSON request body is required' : 'a request body is required';
          assert.equal(prob.detail, expected, `${role}: ${what}`);
          allowed++;
        } else {
          const prob = assertProblem(await normal(auth), 403);
          assert.equal(prob.detail, `this needs the permission ${perm}`, `${role}: ${what}`);
          denied++;
        }
      }
    }
    assert.ok(denied >= 3, `the viewer was refused ${denied} operations`);
    assert.equal(allowed + denied, ops.length * 4);
    // the probes ended no session
    for (const t of Object.values(tokens)) assert.equal((await as(t).get('/api/v1/users/me')).status, 200);
  });

  test("docs/auth.md's table of roles is what the modules declare", async () => {
    const builtin = (await as(S.alice.access_token).get('/api/v1/roles')).json.items.filter((r) => r.builtin);
    const md = readFileSync(new URL('../../docs/auth.md', import.meta.url), 'utf8');
    const head = '| permission | owner | admin | member | viewer |';
    assert.ok(md.includes(head), 'the table is in docs/auth.md');
    const rows = md.slice(md.indexOf(head)).split('\n').slice(2).filter((l) => l.startsWith('| `'));
    const documented = {};
    for (const row of rows) {
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      const roles = ['owner', 'admin', 'member', 'viewer'].filter((_, i) => cells[i + 1] === '✓');
      for (const [, perm] of cells[0].matchAll(/`([^`]+)`/g)) documented[perm] = roles;
    }
    const declared = {};
    for (const r of builtin) for (const perm of r.permissions) (declared[perm] ??= []).push(r.name);
    for (const perm of Object.keys(documented)) declared[perm] ??= [];
    assert.deepEqual(documented, declared);
  });
});

// ---- signing keys (restarts the server: keep last) ----

describe('signing keys', () => {
  test('`cairn keys rotate` while the server runs: old tokens keep working, new keys verify', async () => {
    const before = await signingKeys();
    assert.equal(before.length, 1);
    const oldKid = parts(S.alice.access_token).header.kid;
    assert.equal(oldKid, before[0].kid);

    const r = await cli(['keys', 'rotate']);
    assert.equal(r.code, 0, r.stderr);
    const m = /^new signing key (k[0-9a-f]{16}); running servers sign with it within a second\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const newKid = m[1];
    assert.notEqual(newKid, oldKid);
    const keys = await signingKeys();
    assert.equal(keys.length, 2);
    assert.equal(keys[0].kid, newKid, 'the new key is the newest');

    // tokens signed before the rotation still verify
    assert.equal((await as(S.alice.access_token).get('/api/v1/users/me')).status, 200);
    // a token signed with the new key is accepted once the server re-reads its keys (<= 1 s)
    const now = nowS();
    const forged = sign({ alg: 'HS256', kid: newKid, typ: 'JWT' },
      { ...parts(S.vic.access_token).payload, iat: now, nbf: now, exp: now + 300 }, keys[0].secret);
    const res = await waitFor(async () => {
      const x = await as(forged).get('/api/v1/users/me');
      return x.status === 200 ? x : null;
    }, 5000, 'a token signed with the rotated-in key to verify', 200);
    assert.equal(res.json.id, ids.user.vic);
  });

  test('after a restart: new tokens carry the new key, old ones verify, signed-out sessions stay out', async () => {
    const keys = await signingKeys();
    const out = await session('acme', 'mia');
    assert.equal((await as(out.access_token).post('/api/v1/auth/logout')).status, 204);
    // a session whose end has passed (read from the database by the next process)
    const ended = await session('acme', 'mia');
    await dbExec(dataDir, `UPDATE sessions SET expires_at = ${Date.now() - 1000} WHERE id = '${parts(ended.access_token).payload.sid}'`);

    assert.equal(await srv.stop(), 0);
    srv = await startServer({ dataDir });

    const fresh = await session('acme', 'alice');
    assert.equal(parts(fresh.access_token).header.kid, keys[0].kid);
    assert.equal((await as(fresh.access_token).get('/api/v1/users/me')).status, 200);
    const old = await as(S.alice.access_token).get('/api/v1/users/me');
    assert.equal(old.status, 200, 'a token of the first key, from before the restart');
    assert.equal(old.json.id, ids.user.alice);
    // refresh tokens survive the restart as well
    const r = await refresh(S.alice.refresh_token);
    assert.equal(r.status, 200, r.text);
    // the sign-out happened in the previous process, and still holds
    const p = assertProblem(await as(out.access_token).get('/api/v1/users/me'), 401);
    assert.equal(p.detail, SIGNED_OUT);
    assert.equal(p.type, REVOKED);
    assert.equal(assertProblem(await refresh(out.refresh_token), 401).detail, 'the session has ended; sign in again');
    const e = assertProblem(await as(ended.access_token).get('/api/v1/users/me'), 401);
    assert.deepEqual([e.detail, e.type], ['the session has expired', REVOKED]);
  });

  test('the server shuts down cleanly after all of the above', async () => {
    assert.equal(await srv.stop(), 0);
    const bad = srv.stderrLines().filter((l) => /Sanitizer|runtime error|"level":"(error|fatal)"/.test(l));
    assert.deepEqual(bad, []);
  });
});
