// Browser sessions: HttpOnly SameSite=Strict cookies, double-submit CSRF on unsafe
// methods, refresh from the cookie, and logout clearing the cookies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertProblem, request, runCli, runCliWithInput, startServer, stopAllServers, tempDir } from './lib/server.mjs';

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
  assert.equal(c.cairn_at.value, login.json.access_token);
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

  // refresh from the cookie (CSRF required), answered with new cookies
  assertProblem(await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: {}, headers: { cookie } }), 403);
  const ref = await request(`${srv.url}/api/v1/auth/refresh`, {
    method: 'POST', body: {}, headers: { cookie, 'x-csrf-token': c.cairn_csrf.value },
  });
  assert.equal(ref.status, 200, ref.text);
  const c2 = cookiesOf(ref);
  assert.notEqual(c2.cairn_rt.value, c.cairn_rt.value);
  const cookie2 = jar(c2);

  const out = await request(`${srv.url}/api/v1/auth/logout`, {
    method: 'POST', headers: { cookie: cookie2, 'x-csrf-token': c2.cairn_csrf.value },
  });
  assert.equal(out.status, 204, out.text);
  const cleared = cookiesOf(out);
  for (const name of ['cairn_at', 'cairn_rt', 'cairn_csrf']) assert.ok(cleared[name].attrs.includes('Max-Age=0'));
  assertProblem(await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: cookie2 } }), 401);
});
