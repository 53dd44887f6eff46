// A walk through every operation of the API that answers JSON, against a running server:
// the answers the OpenAPI tests validate against the served document's response schemas.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { api, request, runCli, runCliWithInput, TOKEN, waitFor } from './server.mjs';
import { base32Decode, totp } from './totp.mjs';

export const SCENARIO_PW = 'vivid-Otter-42-lantern';

/** Creates tenant "oa" with an owner (before the server starts: the CLI owns the store). */
export async function seedScenario(data) {
  assert.equal((await runCli(['tenant', 'create', '--slug', 'oa', '--name', 'OA', '--data', data])).code, 0);
  const r = await runCliWithInput(['user', 'create', '--tenant', 'oa', '--email', 'own@oa.example',
    '--role', 'owner', '--password-stdin', '--data', data], `${SCENARIO_PW}\n`);
  assert.equal(r.code, 0, r.stderr);
}

/**
 * Calls the operations in an order that gives each a real answer. Resolves to a list of
 * {method, path (the template), status, contentType, json, text}.
 */
export async function runScenario(url) {
  const seen = [];
  const record = (method, path, res) => {
    seen.push({ method, path, status: res.status, contentType: res.headers['content-type'] ?? '', json: res.json, text: res.text });
    return res;
  };
  const login = async (body) => record('POST', '/api/v1/auth/login',
    await request(`${url}/api/v1/auth/login`, { method: 'POST', body }));
  const signedIn = await login({ tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW });
  assert.equal(signedIn.status, 200, signedIn.text);
  const own = api(url, signedIn.json.access_token);
  const op = api(url, TOKEN);
  const call = async (client, method, path, concrete, body, headers) => {
    const res = await client.request(method, concrete ?? path, body, headers);
    assert.ok(res.status < 300, `${method} ${concrete ?? path}: ${res.status} ${res.text}`);
    return record(method, path, res);
  };
  const anon = { get: (p) => request(`${url}${p}`) };
  for (const p of ['/', '/healthz', '/readyz', '/metrics', '/api/openapi.json']) record('GET', p, await anon.get(p));

  // system-wide and auth
  const refreshed = await call(api(url, ''), 'POST', '/api/v1/auth/refresh', null, { refresh_token: signedIn.json.refresh_token });
  await call(own, 'GET', '/api/v1/users/me');
  await call(own, 'GET', '/api/v1/auth/session');
  await call(own, 'GET', '/api/v1/users/me/export');
  await call(own, 'GET', '/api/v1/tenant');
  await call(own, 'PATCH', '/api/v1/tenant', null, { name: 'OA renamed', allow_registration: true, registration_requires_confirmation: false });
  const reg = await call(api(url, ''), 'POST', '/api/v1/auth/register', null,
    { tenant: 'oa', email: 'reg@oa.example', password: 'amber-Falcon-19-window' });
  const t = await call(op, 'POST', '/api/v1/tenants', null, { slug: 'ob', name: 'OB', owner_email: 'own@ob.example', owner_password: SCENARIO_PW });
  await call(op, 'GET', '/api/v1/tenants');
  await call(op, 'GET', '/api/v1/tenants/{id}', `/api/v1/tenants/${t.json.id}`);
  await call(own, 'GET', '/api/v1/roles');
  await call(own, 'POST', '/api/v1/roles', null, { name: 'auditor', permissions: ['notes.read'] });
  const member = await call(own, 'POST', '/api/v1/users', null, { email: 'mem@oa.example', role: 'member', password: 'amber-Falcon-19-window' });
  await call(own, 'GET', '/api/v1/users');
  await call(own, 'PATCH', '/api/v1/users/{id}', `/api/v1/users/${member.json.id}`, { role: 'viewer' });
  await call(own, 'POST', '/api/v1/users/{id}/unlock', `/api/v1/users/${member.json.id}/unlock`);
  await call(own, 'GET', '/api/v1/audit');
  await call(own, 'GET', '/api/v1/audit/verify');
  await call(own, 'GET', '/api/v1/permissions');
  await call(own, 'GET', '/api/v1/system/status');
  const key = await call(own, 'POST', '/api/v1/api-keys', null, { name: 'reader', permissions: ['notes.read'] });
  await call(own, 'GET', '/api/v1/api-keys');
  await call(own, 'GET', '/api/v1/realtime/presence');
  const cookieLogin = await request(`${url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW, cookie: true },
  });
  record('POST', '/api/v1/auth/login', cookieLogin);
  await call(api(url, ''), 'POST', '/api/v1/auth/password/reset-request', null, { tenant: 'oa', email: 'own@oa.example' });

  // the registered member: a second factor, a sign-in through it, then the account goes
  const regUser = api(url, reg.json.access_token);
  const enrol = await call(regUser, 'POST', '/api/v1/auth/mfa/enroll');
  const secret = base32Decode(enrol.json.secret);
  const confirmed = await call(regUser, 'POST', '/api/v1/auth/mfa/confirm', null, { code: totp(secret, Date.now() - 30_000) });
  const challenge = await login({ tenant: 'oa', email: 'reg@oa.example', password: 'amber-Falcon-19-window' });
  assert.equal(challenge.json.mfa_required, true, challenge.text);
  const verified = await call(api(url, ''), 'POST', '/api/v1/auth/mfa/verify', null,
    { challenge: challenge.json.challenge, recovery_code: confirmed.json.recovery_codes[0] });
  const regAgain = api(url, verified.json.access_token);
  await call(regAgain, 'POST', '/api/v1/auth/password', null,
    { current_password: 'amber-Falcon-19-window', new_password: 'copper-Heron-33-meadow' });
  await call(regAgain, 'DELETE', '/api/v1/users/me');

  // notes
  const note = await call(own, 'POST', '/api/v1/notes', null, { title: 'first', body: 'two words' });
  await call(own, 'GET', '/api/v1/notes');
  await call(own, 'GET', '/api/v1/notes/{id}', `/api/v1/notes/${note.json.id}`);
  await call(own, 'PATCH', '/api/v1/notes/{id}', `/api/v1/notes/${note.json.id}`, { body: 'three words now' });
  const job = await call(own, 'POST', '/api/v1/notes/{id}/analyse', `/api/v1/notes/${note.json.id}/analyse`);

  // jobs
  await call(own, 'GET', '/api/v1/jobs');
  await call(own, 'GET', '/api/v1/jobs/{id}', `/api/v1/jobs/${job.json.job_id}`);

  // insights
  const cust = crypto.randomUUID();
  const item = { customer_id: cust, timestamp: new Date(Date.now() - 3600_000).toISOString(), channel: 'chat',
    event_type: 'message', content: 'The delivery was quick and the support team was lovely.' };
  await call(own, 'POST', '/api/v1/interactions', null, item, { 'idempotency-key': crypto.randomUUID() });
  await call(own, 'POST', '/api/v1/interactions/batch', null, { items: [item, { ...item, channel: 'email' }, { ...item, channel: 'fax' }] });
  const csv = 'customer_id,timestamp,channel,event_type,content\n' +
    `${cust},${item.timestamp},chat,message,Great\n${cust},bad,chat,message,x\n`;
  const imp = record('POST', '/api/v1/interactions/import', await request(`${url}/api/v1/interactions/import`, {
    method: 'POST', body: csv, headers: { authorization: `Bearer ${signedIn.json.access_token}`, 'content-type': 'text/csv' },
  }));
  assert.equal(imp.status, 202, imp.text);
  await waitFor(async () => (await own.get(`/api/v1/interactions/imports/${imp.json.id}`)).json.state === 'done', 20_000, 'the import');
  await call(own, 'GET', '/api/v1/interactions/imports/{id}', `/api/v1/interactions/imports/${imp.json.id}`);
  await waitFor(async () => (await own.get(`/api/v1/insights?customer_id=${cust}`)).json.items.every((i) => i.processed_at !== null),
    20_000, 'the analysis');
  await call(own, 'GET', '/api/v1/interactions/search', '/api/v1/interactions/search?q=delivery');
  await call(own, 'GET', '/api/v1/insights', '/api/v1/insights?include_total=true');
  await call(own, 'GET', '/api/v1/insights/sentiment-trends', '/api/v1/insights/sentiment-trends?group_by=day');
  await call(own, 'GET', '/api/v1/insights/metrics');
  await call(own, 'GET', '/api/v1/insights/settings');
  await call(own, 'PUT', '/api/v1/insights/settings', null, { timezone: 'Europe/Paris' });
  await call(own, 'POST', '/api/v1/sentiment', null, { text: 'I love it' });
  await call(own, 'POST', '/api/v1/sentiment/batch', null, { texts: ['I love it', 'I hate it'] });
  await call(own, 'PUT', '/api/v1/customers/{id}', `/api/v1/customers/${cust}`, { email: 'c@oa.example', segment: 'gold', metadata: { plan: 'pro' } });
  await call(own, 'GET', '/api/v1/customers');
  await call(own, 'GET', '/api/v1/customers/{id}', `/api/v1/customers/${cust}`);
  await call(own, 'GET', '/api/v1/customers/{id}/patterns', `/api/v1/customers/${cust}/patterns`);
  await call(own, 'GET', '/api/v1/insights/metrics', '/api/v1/insights/metrics?by_segment=true');
  await call(own, 'GET', '/api/v1/insights/sentiment-trends', `/api/v1/insights/sentiment-trends?customer_id=${cust}`);

  // the ones that end things last
  await call(own, 'DELETE', '/api/v1/notes/{id}', `/api/v1/notes/${note.json.id}`);
  await call(own, 'GET', '/api/v1/interactions/export');
  await call(own, 'GET', '/api/v1/interactions/imports/{id}/errors', `/api/v1/interactions/imports/${imp.json.id}/errors`);
  await call(own, 'DELETE', '/api/v1/users/{id}', `/api/v1/users/${member.json.id}`);
  await call(own, 'DELETE', '/api/v1/roles/{name}', '/api/v1/roles/auditor');
  const spare = await call(own, 'POST', '/api/v1/api-keys', null, { name: 'spare', permissions: ['notes.read'] });
  await call(own, 'DELETE', '/api/v1/api-keys/{id}', `/api/v1/api-keys/${key.json.id}`);
  // the account joins ob, lists its tenants and moves a session there
  const obOwner = await login({ tenant: 'ob', email: 'own@ob.example', password: SCENARIO_PW });
  await call(api(url, obOwner.json.access_token), 'POST', '/api/v1/users', null, { email: 'own@oa.example', role: 'viewer' });
  const mover = await login({ tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW });
  await call(api(url, mover.json.access_token), 'GET', '/api/v1/auth/tenants');
  await call(api(url, mover.json.access_token), 'POST', '/api/v1/auth/switch', null, { tenant: 'ob', refresh_token: mover.json.refresh_token });
  await call(own, 'POST', '/api/v1/auth/logout-all');
  const second = await login({ tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW });
  await call(api(url, second.json.access_token), 'POST', '/api/v1/auth/logout');
  return { seen, cookieLogin, apiKey: spare.json.key };
}
