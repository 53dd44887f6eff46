// System routes: health, readiness, Prometheus metrics, OpenAPI document and access logs.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MIGRATIONS, REPO_ROOT, api, dbValue, runCliWithInput, runProgram, startServer, stopAllServers, tempDir,
  waitFor,
} from './lib/server.mjs';

let srv;
let c;
let anon;

after(stopAllServers);

before(async () => {
  srv = await startServer();
  c = api(srv.url);
  anon = api(srv.url, null);
});

/** Value of the metric line that starts with `series ` (exact label set), or undefined. */
function metric(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('health', () => {
  test('/healthz is 200 {status: ok} without a token', async () => {
    const res = await anon.get('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  test('/readyz is 200 with status ready and the applied migration count', async () => {
    const res = await anon.get('/readyz');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'ready');
    assert.equal(res.json.migrations, MIGRATIONS.length);
  });
});

describe('landing page', () => {
  test('GET / is HTML with a Content-Security-Policy; JSON answers carry none', async () => {
    const res = await anon.get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html; charset=utf-8$/);
    assert.match(res.text, /<a href="\/api\/openapi.json">/);
    const csp = res.headers['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /object-src 'none'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal((await anon.get('/healthz')).headers['content-security-policy'], undefined);
  });
});

describe('/metrics', () => {
  test('is Prometheus text', async () => {
    const res = await anon.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /^# HELP cairn_http_requests_total /m);
    assert.match(res.text, /^# TYPE cairn_http_requests_total counter$/m);
    assert.match(res.text, /^# TYPE cairn_http_request_duration_seconds histogram$/m);
    // exposition format: name{label="value",...} number (label values may hold braces)
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)$/;
    const lines = res.text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(lines.length > 20);
    for (const line of lines) assert.match(line, sample, line);
    assert.ok(res.text.endsWith('\n'));
  });

  test('counts a create by route template, method and status', async () => {
    const series = 'cairn_http_requests_total{route="/api/v1/notes",method="POST",status="201"}';
    const before = metric((await anon.get('/metrics')).text, series) ?? 0;
    const res = await c.post('/api/v1/notes', { title: 'metered' });
    assert.equal(res.status, 201);
    const bad = await c.post('/api/v1/notes', { title: '' });
    assert.equal(bad.status, 422);
    const got = await c.get(`/api/v1/notes/${res.json.id}`);
    assert.equal(got.status, 200);
    const text = (await anon.get('/metrics')).text;
    assert.equal(metric(text, series), before + 1);
    assert.ok(metric(text, 'cairn_http_requests_total{route="/api/v1/notes",method="POST",status="422"}') >= 1);
    // the item route is counted under its template, not the concrete path
    assert.ok(metric(text, 'cairn_http_requests_total{route="/api/v1/notes/{id}",method="GET",status="200"}') >= 1);
    assert.ok(!text.includes(res.json.id), 'no concrete ids in label values');
  });

  test('has a latency histogram per route with cumulative buckets', async () => {
    await anon.get('/healthz');
    const text = (await anon.get('/metrics')).text;
    const labels = 'route="/healthz",method="GET"';
    const buckets = text.split('\n').filter((l) => l.startsWith(`cairn_http_request_duration_seconds_bucket{${labels},le=`));
    assert.ok(buckets.length >= 2, 'several buckets');
    assert.match(buckets.at(-1), /le="\+Inf"\} \d+$/);
    const counts = buckets.map((l) => Number(l.split(' ').pop()));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], 'buckets are cumulative');
    const count = metric(text, `cairn_http_request_duration_seconds_count{${labels}}`);
    assert.ok(count >= 1);
    assert.equal(counts.at(-1), count, '+Inf bucket equals _count');
    const sum = metric(text, `cairn_http_request_duration_seconds_sum{${labels}}`);
    assert.ok(sum > 0 && sum < count * 5, `sum ${sum} is plausible`);
  });

  test('counts unmatched requests without inventing a route label', async () => {
    await anon.get('/definitely/not/here');
    const text = (await anon.get('/metrics')).text;
    assert.ok(metric(text, 'cairn_http_requests_total{route="unmatched",method="GET",status="404"}') >= 1);
    assert.ok(!text.includes('/definitely/not/here'));
  });

  test('has store and process metrics', async () => {
    await c.get('/api/v1/notes');
    const text = (await anon.get('/metrics')).text;
    assert.ok(metric(text, 'cairn_store_query_duration_seconds_count') >= 1);
    assert.match(text, /^cairn_store_query_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    const rss = metric(text, 'process_resident_memory_bytes');
    assert.ok(rss > 1024 * 1024 && rss < 4 * 1024 ** 3, `rss ${rss}`);
    const fds = metric(text, 'process_open_fds');
    assert.ok(fds >= 3 && fds < 10000, `fds ${fds}`);
    const threads = metric(text, 'process_threads');
    assert.ok(threads >= 3, `threads ${threads} (main + 2 loops)`); // CAIRN_THREADS=2
    const start = metric(text, 'process_start_time_seconds');
    assert.ok(Math.abs(start - Date.now() / 1000) < 600, `start time ${start}`);
    assert.match(text, /^cairn_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
    for (const s of ['cairn_cache_hits_total', 'cairn_cache_misses_total', 'cairn_cache_evictions_total',
      'cairn_cache_expired_total', 'cairn_cache_invalidations_total', 'cairn_cache_entries', 'cairn_cache_bytes']) {
      assert.ok(metric(text, s) >= 0, s);
    }
  });

  test('a server of a PostgreSQL + NATS run is connected to the run\'s NATS; otherwise it has no bus', async () => {
    const text = (await anon.get('/metrics')).text;
    if (process.env.CAIRN_TEST_NATS_URL) assert.equal(metric(text, 'cairn_bus_connected'), 1);
    else assert.doesNotMatch(text, /^cairn_bus_connected/m);
  });
});

describe('/api/openapi.json', () => {
  let doc;
  before(async () => {
    const res = await anon.get('/api/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    doc = res.json;
  });

  test('is OpenAPI 3.1.0 with the notes paths and operations', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.title, 'string');
    assert.match(doc.info.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/notes']).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/notes/{id}']).sort(), ['delete', 'get', 'patch']);
    for (const p of ['/healthz', '/readyz', '/metrics', '/api/openapi.json']) assert.ok(doc.paths[p]?.get, p);
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  });

  test('POST /api/v1/notes has a requestBody schema ref that resolves', () => {
    const post = doc.paths['/api/v1/notes'].post;
    assert.equal(post.requestBody.required, true);
    const ref = post.requestBody.content['application/json'].schema.$ref;
    assert.equal(ref, '#/components/schemas/NoteCreate');
    const schema = doc.components.schemas.NoteCreate;
    assert.equal(schema.type, 'object');
    assert.deepEqual(schema.required, ['title']);
    assert.equal(schema.properties.title.maxLength, 200);
    assert.equal(schema.properties.title.minLength, 1);
    assert.equal(schema.properties.body.maxLength, 100000);
    assert.equal(schema.additionalProperties, false);
    assert.ok(post.responses['201'], 'documents 201');
    assert.equal(post.responses.default.content['application/problem+json'].schema.$ref, '#/components/schemas/Problem');
    const patchRef = doc.paths['/api/v1/notes/{id}'].patch.requestBody.content['application/json'].schema.$ref;
    assert.ok(doc.components.schemas[patchRef.split('/').pop()], patchRef);
  });

  test('protected operations carry x-permission and bearer security; public ones none', () => {
    const n = doc.paths['/api/v1/notes'];
    const item = doc.paths['/api/v1/notes/{id}'];
    assert.equal(n.post['x-permission'], 'notes.write');
    assert.equal(n.get['x-permission'], 'notes.read');
    assert.equal(item.get['x-permission'], 'notes.read');
    assert.equal(item.patch['x-permission'], 'notes.write');
    assert.equal(item.delete['x-permission'], 'notes.write');
    assert.deepEqual(n.post.security, [{ bearer: [] }, { apiKey: [] }, { cookie: [] }]);
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    assert.equal(doc.paths['/healthz'].get['x-permission'], undefined);
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
  });

  test('documents parameters: the uuid path id and the list query', () => {
    const idParam = doc.paths['/api/v1/notes/{id}'].get.parameters.find((p) => p.name === 'id');
    assert.equal(idParam.in, 'path');
    assert.equal(idParam.required, true);
    assert.equal(idParam.schema.format, 'uuid');
    const q = Object.fromEntries(doc.paths['/api/v1/notes'].get.parameters.map((p) => [p.name, p]));
    assert.equal(q.limit.in, 'query');
    assert.equal(q.limit.schema.minimum, 1);
    assert.equal(q.limit.schema.maximum, 200);
    assert.equal(q.cursor.in, 'query');
  });
});

describe('access log', () => {
  test('one JSON line per request with the route template', async () => {
    const created = await c.post('/api/v1/notes', { title: 'logged' });
    const res = await c.get(`/api/v1/notes/${created.json.id}`, { 'x-request-id': 'access-log-1' });
    assert.equal(res.status, 200);
    const line = await waitFor(() => srv.logs().find((l) => l.request_id === 'access-log-1'), 5000, 'access log line');
    assert.match(line.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    assert.ok(Math.abs(Date.parse(line.ts) - Date.now()) < 60_000);
    assert.equal(line.level, 'info');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/api/v1/notes/{id}');
    assert.equal(line.path, `/api/v1/notes/${created.json.id}`);
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_us, 'number');
    assert.ok(Number.isInteger(line.duration_us) && line.duration_us >= 0 && line.duration_us < 5_000_000);
    assert.equal(line.bytes, Buffer.byteLength(res.text));
    assert.equal(srv.logs().filter((l) => l.request_id === 'access-log-1').length, 1, 'exactly one line');
  });

  test('errors are logged too, the query string is not', async () => {
    await anon.get('/api/v1/notes?limit=5&secret=x', { 'x-request-id': 'access-log-2' });
    await anon.get('/no/such/route', { 'x-request-id': 'access-log-3' });
    const a = await waitFor(() => srv.logs().find((l) => l.request_id === 'access-log-2'), 5000, 'access line 2');
    assert.equal(a.status, 401);
    assert.equal(a.route, '/api/v1/notes');
    assert.equal(a.path, '/api/v1/notes');
    assert.ok(!srv.stderrLines().some((l) => l.includes('secret=x')), 'query strings are not logged');
    const b = await waitFor(() => srv.logs().find((l) => l.request_id === 'access-log-3'), 5000, 'access line 3');
    assert.equal(b.status, 404);
    assert.equal(b.route, '-');
  });

  test('every stderr line after start-up is JSON', async () => {
    await anon.get('/healthz');
    // the start-up lines for people (and scripts) are the only plain ones; AddressSanitizer's
    // one notice about stack switches (fibers, on PostgreSQL) is the sanitizer's, not ours
    const sanitizer = /^==\d+==WARNING: ASan doesn't fully support makecontext\/swapcontext/;
    const lines = srv.stderrLines().filter((l) => l && !l.startsWith('listening on ') &&
      !l.startsWith('console: ') && !sanitizer.test(l));
    assert.equal(srv.stderrLines().filter((l) => l.startsWith('console: ')).length, 1);
    assert.ok(lines.length > 5);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
  });

  test('CAIRN_ACCESS_LOG=false turns access lines off', async () => {
    const quiet = await startServer({ env: { CAIRN_ACCESS_LOG: 'false' } });
    const q = api(quiet.url, null);
    assert.equal((await q.get('/healthz', { 'x-request-id': 'quiet-1' })).status, 200);
    assert.equal(await quiet.stop(), 0);
    assert.ok(quiet.logs().some((l) => /ready/.test(l.msg ?? '')), 'app log still written');
    assert.equal(quiet.logs().filter((l) => l.type === 'access').length, 0);
  });
});

describe('the documentation matches the server', () => {
  test('every problem status the server answers is in the error table of docs/api.md', async () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/api.md'), 'utf8');
    // a status may have several types (401: unauthorized, token-expired, ...): each its row
    const table = new Map();
    for (const [, status, slug] of doc.matchAll(/^\| (\d{3}) \| `([a-z-]+)` \|/gm))
      table.set(Number(status), [...(table.get(Number(status)) ?? []), slug]);
    const limited = await startServer({ env: { CAIRN_RATE_AUTH_PER_MIN: '1' } });
    const l = api(limited.url, null);
    const login = () => l.post('/api/v1/auth/login', { tenant: 'x', email: 'a@b.test', password: 'wrong-password-1' });
    const answers = [
      await login(), await login(), // 401, then 429
      await c.get('/api/v1/realtime'), // 426: not a WebSocket handshake
      await anon.get('/api/v1/notes'), // 401
      await api(limited.url, 'not.a.token').get('/api/v1/notes'), // 401 token-invalid
      await c.get('/api/v1/nowhere'), // 404
      await c.put('/api/v1/notes', {}), // 405
      await c.post('/api/v1/notes', { title: '' }), // 422
      await c.post('/api/v1/notes', 'x', { 'content-type': 'text/plain' }), // 415
    ];
    const seen = new Set(answers.map((a) => a.status));
    assert.equal(answers[4].json.type, 'urn:cairn:problem:token-invalid');
    for (const s of [401, 404, 405, 415, 422, 426, 429]) assert.ok(seen.has(s), `provoked ${s}`);
    for (const a of answers) {
      assert.equal(a.headers['content-type'], 'application/problem+json', `${a.status}`);
      assert.ok((table.get(a.status) ?? []).includes(a.json.type.replace('urn:cairn:problem:', '')),
        `docs/api.md lists ${a.status} as ${a.json.type}`);
    }
    await limited.stop();
  });

  test('the README sign-in walkthrough runs, and stops loudly when sign-in is refused', async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('/api/v1/auth/login'));
    assert.ok(block, 'the README has the walkthrough');
    // as `make run` leaves things: tenant local, its owner, and data/admin-login
    const root = tempDir();
    const data = path.join(root, 'data');
    mkdirSync(data);
    const password = 'Kq7+vZ/3x9Lm2Rt8Wb4N';
    assert.equal((await runCliWithInput(['tenant', 'create', '--slug', 'local', '--name', 'Local', '--data', data], '')).code, 0);
    const owner = await runCliWithInput(['user', 'create', '--tenant', 'local', '--email', 'admin@localhost.localdomain',
      '--role', 'owner', '--password-stdin', '--data', data], `${password}\n`);
    assert.equal(owner.code, 0, owner.stderr);
    writeFileSync(path.join(data, 'admin-login'), `tenant: local\nemail: admin@localhost.localdomain\npassword: ${password}\n`);
    const run = (url) => runProgram('bash', ['-c', `cd '${root}'\n${block.replaceAll('http://127.0.0.1:8080', url)}`], { timeoutMs: 20_000 });

    const s = await startServer({ dataDir: data, env: { CAIRN_RATE_AUTH_PER_MIN: '1' } });
    const ok = await run(s.url);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /"title":"first note"/);
    assert.match(ok.stdout, /"openapi":"3\.1\.0"/);

    // the one sign-in a minute is spent: the walkthrough must not carry on with a bad token
    const refused = await run(s.url);
    assert.notEqual(refused.code, 0, 'the walkthrough fails');
    assert.match(refused.stderr, /sign-in failed: .*"status":429/);
    assert.match(refused.stderr, /no access token/);
    assert.equal(await s.stop(), 0);
    const count = await dbValue(data, "SELECT count(*) FROM notes WHERE title = 'first note'");
    assert.equal(count, 1, 'the refused run created nothing');
  });
});
