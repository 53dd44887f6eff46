// Browser sessions: HttpOnly SameSite=Strict cookies, a CSRF token bound to the session on
// unsafe methods, no token in the answer's body, refresh from the cookie (with an empty
// body), and logout clearing the cookies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TOKEN, assertProblem, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir } from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv;

/** Cookies from Set-Cookie headers, as {name: {value, attrs}}. */
function cookiesOf(res) {
  const raw = res.headers['set-cookie'] ?? [];
  const out = {};
  for (const c of Array.isArray(raw) ? raw : [raw]) {
    const [pair, ...attrs] = c.split('; ');
    const i = pair.indexOf('=');
    out[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs };
  }
  return out;
}
const jar = (c) => Object.entries(c).map(([k, v]) => `${k}=${v.value}`).join('; ');

before(async () => {
  const data = tempDir('cairn-e2e-cookie-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'ck', '--name', 'CK', '--data', data])).code, 0);
  const r = await runCliWithInput(['user', 'create', '--tenant', 'ck', '--email', 'kim@ck.example',
    '--role', 'member', '--password-stdin', '--data', data], `${PW}\n`);
  assert.equal(r.code, 0, r.stderr);
  srv = await startServer({ dataDir: data });
});

test('cookie session: attributes, CSRF on unsafe methods, refresh, logout', async () => {
  const login = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'ck', email: 'kim@ck.example', password: PW, cookie: true },
  });
  assert.equal(login.status, 200, login.text);
  const c = cookiesOf(login);
  for (const name of ['cairn_at', 'cairn_rt']) {
    assert.ok(c[name].attrs.includes('HttpOnly'), `${name} is HttpOnly`);
    assert.ok(c[name].attrs.includes('SameSite=Strict'));
    assert.ok(!c[name].attrs.includes('Secure'), 'no Secure flag over plain HTTP');
  }
  assert.ok(!c.cairn_csrf.attrs.includes('HttpOnly'), 'the page must be able to read the CSRF token');
  // the tokens travel only in the HttpOnly cookies: the page's script never sees one
  assert.equal(login.json.access_token, undefined);
  assert.equal(login.json.refresh_token, undefined);
  assert.ok(!login.text.includes(c.cairn_at.value) && !login.text.includes(c.cairn_rt.value));
  assert.equal(login.json.token_type, 'Bearer');
  assert.equal(login.json.expires_in, 900);
  const cookie = jar(c);

  // safe methods need only the cookie
  const me = await request(`${srv.url}/api/v1/users/me`, { headers: { cookie } });
  assert.equal(me.status, 200, me.text);
  // unsafe ones also the CSRF header, equal to the cookie
  const body = { title: 'from a browser' };
  assertProblem(await request(`${srv.url}/api/v1/notes`, { method: 'POST', body, headers: { cookie } }), 403);
  assertProblem(await request(`${srv.url}/api/v1/notes`, {
    method: 'POST', body, headers: { cookie, 'x-csrf-token': 'forged' },
  }), 403);
  const ok = await request(`${srv.url}/api/v1/notes`, {
    method: 'POST', body, headers: { cookie, 'x-csrf-token': c.cairn_csrf.value },
  });
  assert.equal(ok.status, 201, ok.text);

  // refresh from the cookie (CSRF required), answered with new cookies; the body may be
  // empty (no Content-Type, Content-Length 0) or {}
  assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', headers: { cookie } }), 403);
  const ref = await request(`${srv.url}/api/v1/auth/refresh`, {
    method: 'POST', headers: { cookie, 'x-csrf-token': c.cairn_csrf.value, 'content-length': '0' },
  });
  assert.equal(ref.status, 200, ref.text);
  assert.equal(ref.json.access_token, undefined);
  assert.equal(ref.json.refresh_token, undefined);
  assert.equal(ref.json.expires_in, 900);
  const c2 = cookiesOf(ref);
  assert.notEqual(c2.cairn_rt.value, c.cairn_rt.value);
  assert.ok(c2.cairn_at.value.length > 20, 'a new access cookie');
  assert.equal(c2.cairn_csrf.value, c.cairn_csrf.value, 'the same session keeps its CSRF token');
  const cookie2 = jar(c2);
  const again = await request(`${srv.url}/api/v1/auth/refresh`, {
    method: 'POST', body: {}, headers: { cookie: cookie2, 'x-csrf-token': c2.cairn_csrf.value },
  });
  assert.equal(again.status, 200, again.text);
  const c3 = cookiesOf(again);
  const cookie3 = jar(c3);
  assert.notEqual(c3.cairn_rt.value, c2.cairn_rt.value); // rotated again: c3 from here on

  const out = await request(`${srv.url}/api/v1/auth/logout`, {
    method: 'POST', headers: { cookie: cookie3, 'x-csrf-token': c3.cairn_csrf.value },
  });
  assert.equal(out.status, 204, out.text);
  const cleared = cookiesOf(out);
  for (const name of ['cairn_at', 'cairn_rt', 'cairn_csrf']) assert.ok(cleared[name].attrs.includes('Max-Age=0'));
  assertProblem(await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: cookie3 } }), 401);
});

async function cookieLogin() {
  const res = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'ck', email: 'kim@ck.example', password: PW, cookie: true },
  });
  assert.equal(res.status, 200, res.text);
  return cookiesOf(res);
}

test('the CSRF token is bound to its session: another session\'s or a planted one is refused', async () => {
  const a = await cookieLogin();
  const b = await cookieLogin();
  assert.notEqual(a.cairn_csrf.value, b.cairn_csrf.value);
  const body = { title: 'csrf' };
  const post = (cookie, token) => request(`${srv.url}/api/v1/notes`, {
    method: 'POST', body, headers: { cookie, 'x-csrf-token': token },
  });
  // session A's token with session B's cookies (also with A's CSRF cookie planted beside them)
  let p = assertProblem(await post(jar(b), a.cairn_csrf.value), 403);
  assert.match(p.detail, /X-CSRF-Token/);
  assertProblem(await post(jar({ ...b, cairn_csrf: a.cairn_csrf }), a.cairn_csrf.value), 403);
  // double submit of a value the attacker chose (cookie planted, header equal): refused
  assertProblem(await post(jar({ ...b, cairn_csrf: { value: 'planted' } }), 'planted'), 403);
  // each session with its own token works, whatever the CSRF cookie says
  assert.equal((await post(jar(b), b.cairn_csrf.value)).status, 201);
  assert.equal((await post(jar({ ...a, cairn_csrf: { value: 'x' } }), a.cairn_csrf.value)).status, 201);
  // refresh from the cookie: the token of the refresh cookie's session only
  p = assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, {
    method: 'POST', headers: { cookie: jar(b), 'x-csrf-token': a.cairn_csrf.value },
  }), 403);
  const ok = await request(`${srv.url}/api/v1/auth/refresh`, {
    method: 'POST', headers: { cookie: jar(b), 'x-csrf-token': b.cairn_csrf.value },
  });
  assert.equal(ok.status, 200, ok.text);
});

test('cookie registration answers without tokens in the body', async () => {
  const t = await request(`${srv.url}/api/v1/tenants`, {
    method: 'POST', body: { slug: 'open', name: 'Open', allow_registration: true },
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(t.status, 201, t.text);
  const reg = await request(`${srv.url}/api/v1/auth/register`, {
    method: 'POST', body: { tenant: 'open', email: 'new@open.example', password: PW, cookie: true },
  });
  assert.equal(reg.status, 201, reg.text);
  assert.equal(reg.json.access_token, undefined);
  assert.equal(reg.json.refresh_token, undefined);
  const c = cookiesOf(reg);
  assert.ok(c.cairn_at.value.length > 20 && c.cairn_rt.value.length > 20);
  assert.equal((await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: jar(c) } })).status, 200);
  // without the cookie option the pair is in the body, as for any API client
  const plain = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'open', email: 'new@open.example', password: PW },
  });
  assert.equal(plain.status, 200);
  assert.ok(plain.json.access_token && plain.json.refresh_token);
  assert.equal(plain.headers['set-cookie'], undefined);
});

test('auth.access_ttl_s shortens the access token and its cookie; the refresh token renews it', async () => {
  const data = tempDir('cairn-e2e-ttl-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'tt', '--name', 'TT', '--data', data])).code, 0);
  const r = await runCliWithInput(['user', 'create', '--tenant', 'tt', '--email', 'kim@tt.example',
    '--role', 'member', '--password-stdin', '--data', data], `${PW}\n`);
  assert.equal(r.code, 0, r.stderr);
  const short = await startServer({ dataDir: data, env: { CAIRN_ACCESS_TTL_S: '2' } });
  const body = { tenant: 'tt', email: 'kim@tt.example', password: PW };
  const tokens = await request(`${short.url}/api/v1/auth/login`, { method: 'POST', body });
  assert.equal(tokens.status, 200, tokens.text);
  assert.equal(tokens.json.expires_in, 2);
  const claims = JSON.parse(Buffer.from(tokens.json.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.exp - claims.iat, 2);
  const browser = await request(`${short.url}/api/v1/auth/login`, { method: 'POST', body: { ...body, cookie: true } });
  assert.ok(cookiesOf(browser).cairn_at.attrs.includes('Max-Age=2'), 'the cookie lives as long as the token');

  const auth = { authorization: `Bearer ${tokens.json.access_token}` };
  assert.equal((await request(`${short.url}/api/v1/users/me`, { headers: auth })).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 3100));
  assert.equal(assertProblem(await request(`${short.url}/api/v1/users/me`, { headers: auth }), 401).type,
    'urn:cairn:problem:token-expired');
  const renewed = await request(`${short.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: tokens.json.refresh_token } });
  assert.equal(renewed.status, 200, renewed.text);
  assert.equal(renewed.json.expires_in, 2);
  assert.equal((await request(`${short.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${renewed.json.access_token}` } })).status, 200);
  // out of range: the server refuses to start
  await assert.rejects(startServer({ dataDir: tempDir('cairn-e2e-ttl-bad-'), env: { CAIRN_ACCESS_TTL_S: '901' } }));
});
