// One rule for times (docs/api.md, "Identifiers and times"): every JSON answer gives a time
// as integer Unix milliseconds (UTC), and every time input takes those milliseconds or RFC
// 3339 text, so what a client reads it can send back. The insights routes are covered in
// insights.test.mjs and insights_csv.test.mjs (with the CSV export's RFC 3339 exception);
// this file covers the identity inputs and the OpenAPI document.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, assertProblem, request, startServer, stopAllServers } from './lib/server.mjs';

after(stopAllServers);

const DAY = 24 * 3600_000;
const fields = (p) => (p.errors ?? []).map((e) => e.field).sort();
let srv;
let owner;

before(async () => {
  srv = await startServer();
  const pw = 'steady-Koala-71-bramble';
  const t = await api(srv.url).post('/api/v1/tenants', {
    slug: 'times', name: 'Times', owner_email: 'owner@times.test', owner_password: pw,
  });
  assert.equal(t.status, 201, t.text);
  const login = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'times', email: 'owner@times.test', password: pw },
  });
  assert.equal(login.status, 200, login.text);
  owner = api(srv.url, login.json.access_token);
});

test('an API key expiry is taken as integer ms or RFC 3339 and answered in ms', async () => {
  const ms = Date.now() + DAY + 123;
  const a = await owner.post('/api/v1/api-keys', { name: 'by-ms', permissions: ['notes.read'], expires_at: ms });
  assert.equal(a.status, 201, a.text);
  assert.equal(a.json.expires_at, ms);
  assert.ok(Number.isSafeInteger(a.json.created_at));
  const text = new Date(ms + DAY).toISOString();
  const b = await owner.post('/api/v1/api-keys', { name: 'by-text', permissions: ['notes.read'], expires_at: text });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.json.expires_at, ms + DAY);
  // what a client read, sent back as it is
  const c = await owner.post('/api/v1/api-keys', { name: 'echo', permissions: ['notes.read'], expires_at: b.json.expires_at });
  assert.equal(c.json.expires_at, b.json.expires_at);
  for (const bad of [Date.now() - 1000, 'tomorrow', 1.5, true, 253402300800000]) {
    const p = assertProblem(await owner.post('/api/v1/api-keys', { name: 'bad', permissions: ['notes.read'], expires_at: bad }), 422);
    assert.deepEqual(fields(p), ['expires_at'], `${bad}: ${JSON.stringify(p)}`);
  }
});

test('the audit log filters since/until take integer ms or RFC 3339', async () => {
  const all = (await owner.get('/api/v1/audit?limit=200')).json.items;
  assert.ok(all.length >= 3, JSON.stringify(all));
  assert.ok(all.every((e) => Number.isSafeInteger(e.at)));
  const ats = all.map((e) => e.at).sort((x, y) => x - y);
  const since = ats[1];
  const byMs = await owner.get(`/api/v1/audit?limit=200&since=${since}`);
  assert.equal(byMs.status, 200, byMs.text);
  assert.deepEqual(byMs.json.items.map((e) => e.seq), all.filter((e) => e.at >= since).map((e) => e.seq));
  const byText = await owner.get(`/api/v1/audit?limit=200&since=${encodeURIComponent(new Date(since).toISOString())}`);
  assert.deepEqual(byText.json.items, byMs.json.items);
  const until = await owner.get(`/api/v1/audit?limit=200&until=${since}`);
  assert.deepEqual(until.json.items.map((e) => e.seq), all.filter((e) => e.at < since).map((e) => e.seq));
  for (const q of ['since=yesterday', 'until=1.5', 'since=']) {
    const p = assertProblem(await owner.get(`/api/v1/audit?${q}`), 422);
    assert.deepEqual(fields(p), [q.split('=')[0]], q);
  }
});

test('the OpenAPI document declares every time input as integer ms or an RFC 3339 date-time', async () => {
  const doc = (await api(srv.url).get('/api/openapi.json')).json;
  const text = JSON.stringify(doc);
  assert.ok(!/"type":"string","format":"date-time"|"format":"date-time","type":"string"/.test(
    text.replace(/"anyOf":\[[^\]]*\]/g, '')), 'no input is declared as RFC 3339 text alone');
  const isTime = (s) => Array.isArray(s?.anyOf) && s.anyOf.some((x) => x.type === 'integer') &&
    s.anyOf.some((x) => x.type === 'string' && x.format === 'date-time');
  const param = (path, name) => doc.paths[path].get.parameters.find((x) => x.name === name).schema;
  for (const [path, names] of [['/api/v1/audit', ['since', 'until']], ['/api/v1/insights', ['from', 'to']],
    ['/api/v1/insights/metrics', ['from', 'to']], ['/api/v1/insights/sentiment-trends', ['from', 'to']],
    ['/api/v1/interactions/export', ['from', 'to']]])
    for (const n of names) assert.ok(isTime(param(path, n)), `${path} ${n}: ${JSON.stringify(param(path, n))}`);
  const deref = (x) => (x?.$ref ? deref(x.$ref.split('/').slice(1).reduce((o, k) => o[k], doc)) : x);
  const body = (path) => deref(doc.paths[path].post.requestBody.content['application/json'].schema);
  assert.ok(isTime(body('/api/v1/api-keys').properties.expires_at));
  assert.ok(isTime(body('/api/v1/interactions').properties.timestamp));
});
