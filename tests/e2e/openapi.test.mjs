// The OpenAPI document against the real binary: every operation's answers are declared and
// true (a walk through the API validated against /api/openapi.json), times follow one rule,
// operationIds are stable names, credentials and headers are declared, console files are
// not operations, and `redocly lint` (recommended rules) finds no error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, request, startServer, stopAllServers, tempDir } from './lib/server.mjs';
import { runScenario, SCENARIO_PW, seedScenario } from './lib/scenario.mjs';
import { resolve, validate } from './lib/jsonschema.mjs';

after(stopAllServers);

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
/** Property names that hold a time (besides every name ending in _at). */
const TIME_NAMES = new Set(['timestamp', 'at', 'start', 'from', 'to', 'expires', 'first_seen', 'last_seen', 'valid_until', 'run_at', 'lease_until', 'member_since', 'locked_until']);
/** Operations the walk does not reach, and why (each has its own tests elsewhere). */
const NOT_WALKED = {
  'jobs.retry': 'needs a dead job (jobs.test.mjs)',
  'auth.confirmRegistration': 'needs a mailed token (tenants.test.mjs)',
  'auth.resetPassword': 'needs a mailed token (reset.test.mjs)',
  'realtime.connect': 'a WebSocket upgrade (realtime.test.mjs)',
  'realtime.stream': 'an endless event stream (realtime.test.mjs)',
};

let srv;
let doc;
let walk;

function operations() {
  const ops = [];
  for (const [p, item] of Object.entries(doc.paths))
    for (const m of METHODS) if (item[m]) ops.push({ path: p, method: m, op: item[m] });
  return ops;
}

before(async () => {
  const data = tempDir('cairn-e2e-openapi-');
  await seedScenario(data);
  srv = await startServer({ dataDir: data });
  const res = await request(`${srv.url}/api/openapi.json`);
  assert.equal(res.status, 200);
  doc = res.json;
  walk = await runScenario(srv.url);
});

describe('answers', () => {

  test('every answer of a walk through the API matches the schema its operation declares', () => {
    const failures = [];
    for (const seen of walk.seen) {
      const op = doc.paths[seen.path]?.[seen.method.toLowerCase()];
      assert.ok(op, `${seen.method} ${seen.path} is in the document`);
      const declared = op.responses[String(seen.status)];
      assert.ok(declared, `${op.operationId} documents status ${seen.status}`);
      const media = seen.contentType.split(';')[0].trim();
      if (seen.status === 204 || seen.status === 202 && media === '') {
        assert.equal(declared.content, undefined, `${op.operationId}: ${seen.status} has no body`);
        assert.equal(seen.text, '', `${op.operationId}: no body`);
        continue;
      }
      assert.ok(declared.content?.[media], `${op.operationId} ${seen.status} declares ${media}`);
      if (media !== 'application/json') continue;
      const schema = declared.content[media].schema;
      assert.ok(schema, `${op.operationId} declares its JSON schema`);
      const errs = validate(doc, schema, seen.json, `${op.operationId}`);
      if (errs.length) failures.push(...errs);
    }
    assert.deepEqual(failures, []);
  });

  test('the walk reaches every operation but the listed ones', () => {
    const walked = new Set(walk.seen.map((s) => doc.paths[s.path][s.method.toLowerCase()].operationId));
    const missed = operations().map((o) => o.op.operationId).filter((id) => !walked.has(id) && !NOT_WALKED[id]);
    assert.deepEqual(missed, []);
    for (const id of Object.keys(NOT_WALKED)) assert.ok(operations().some((o) => o.op.operationId === id), id);
  });

  test('error answers are the declared problems', async () => {
    const token = (await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW },
    })).json.access_token;
    const auth = { authorization: `Bearer ${token}` };
    const cases = [
      ['GET', '/api/v1/notes/{id}', '/api/v1/notes/00000000-0000-7000-8000-000000000000', {}, undefined, 401],
      ['GET', '/api/v1/notes/{id}', '/api/v1/notes/00000000-0000-7000-8000-000000000000', auth, undefined, 404],
      ['POST', '/api/v1/notes', '/api/v1/notes', auth, { title: '' }, 422],
      ['POST', '/api/v1/roles', '/api/v1/roles', auth, { name: 'owner', permissions: ['notes.read'] }, 422],
      ['GET', '/api/v1/tenants', '/api/v1/tenants', auth, undefined, 403],
      ['GET', '/api/v1/realtime', '/api/v1/realtime', auth, undefined, 426],
      ['GET', '/api/v1/realtime/sse', '/api/v1/realtime/sse?channel=nobody.publishes', auth, undefined, 404],
    ];
    for (const [method, template, url, headers, body, status] of cases) {
      const res = await request(`${srv.url}${url}`, { method, headers, body });
      assert.equal(res.status, status, `${method} ${url}: ${res.text}`);
      const declared = doc.paths[template][method.toLowerCase()].responses[String(status)];
      assert.ok(declared, `${method} ${template} declares ${status}`);
      assert.match(res.headers['content-type'], /^application\/problem\+json/);
      const schema = resolve(doc, declared).content['application/problem+json'].schema;
      assert.deepEqual(validate(doc, schema, res.json), [], `${method} ${url}`);
    }
  });

  test('both sign-in answers are declared: tokens, and the MFA challenge', () => {
    const logins = walk.seen.filter((s) => s.path === '/api/v1/auth/login').map((s) => s.json);
    assert.ok(logins.some((j) => j.access_token), 'a token answer was validated');
    assert.ok(logins.some((j) => j.mfa_required === true), 'a challenge answer was validated');
    assert.ok(logins.some((j) => j.access_token === undefined && j.token_type === 'Bearer'), 'a cookie answer was validated');
  });
});

describe('the document', () => {
  test('every operation answers a declared body: a JSON schema, another media type, or none', () => {
    for (const { path: p, method, op } of operations()) {
      const success = Object.entries(op.responses).filter(([s]) => /^[12]\d\d$/.test(s));
      assert.ok(success.length, `${method} ${p} has a success answer`);
      for (const [status, r] of success) {
        if (status === '204' || status === '101') {
          assert.equal(r.content, undefined, `${op.operationId} ${status}`);
          continue;
        }
        assert.ok(r.content, `${op.operationId} ${status} declares its content`);
        const json = r.content['application/json'];
        if (json) assert.ok(json.schema.$ref?.startsWith('#/components/schemas/'), `${op.operationId} refers to a component`);
      }
      assert.ok(Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)), `${op.operationId} documents its 4xx`);
      for (const [status, r] of Object.entries(op.responses).filter(([s]) => /^4/.test(s)))
        assert.equal(resolve(doc, r).content['application/problem+json'].schema.$ref, '#/components/schemas/Problem', `${op.operationId} ${status}`);
      assert.ok(op.description, `${op.operationId} has a description`);
    }
  });

  test('the answers of the main resources are the named components', () => {
    const ref = (p, m, s) => doc.paths[p][m].responses[s].content['application/json'].schema.$ref.split('/').pop();
    assert.equal(ref('/api/v1/notes/{id}', 'get', '200'), 'Note');
    assert.equal(ref('/api/v1/notes', 'post', '201'), 'Note');
    assert.equal(ref('/api/v1/notes', 'get', '200'), 'NoteList');
    assert.equal(ref('/api/v1/jobs/{id}', 'get', '200'), 'Job');
    assert.equal(ref('/api/v1/customers', 'get', '200'), 'CustomerList');
    assert.equal(ref('/api/v1/insights', 'get', '200'), 'InteractionList');
    assert.equal(ref('/api/v1/auth/login', 'post', '200'), 'LoginAnswer');
    assert.equal(ref('/healthz', 'get', '200'), 'Health');
    assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain']);
    const note = doc.components.schemas.Note;
    assert.deepEqual([...note.required].sort(), ['analyses', 'body', 'created_at', 'id', 'title', 'updated_at', 'words']);
    assert.equal(note.additionalProperties, false);
    assert.equal(doc.components.schemas.NoteList.properties.items.items.$ref, '#/components/schemas/Note');
  });

  test('times in answers are integer Unix milliseconds, declared one way', () => {
    const seen = new Set();
    const bad = [];
    let count = 0;
    const visit = (schema, where) => {
      if (!schema || typeof schema !== 'object') return;
      if (schema.$ref) {
        if (seen.has(schema.$ref)) return;
        seen.add(schema.$ref);
        return visit(resolve(doc, schema), schema.$ref.split('/').pop());
      }
      for (const s of schema.oneOf ?? []) visit(s, where);
      if (schema.items) visit(schema.items, `${where}[]`);
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        const p = resolve(doc, prop);
        if (name.endsWith('_at') || TIME_NAMES.has(name)) {
          count++;
          const types = [p.type].flat();
          if (!(types.includes('integer') && types.every((t) => t === 'integer' || t === 'null') && p.format === 'unix-ms'))
            bad.push(`${where}.${name}: ${JSON.stringify({ type: p.type, format: p.format })}`);
        }
        visit(prop, `${where}.${name}`);
      }
    };
    for (const { op } of operations())
      for (const [status, r] of Object.entries(op.responses))
        if (/^2/.test(status)) visit(r.content?.['application/json']?.schema, op.operationId);
    assert.deepEqual(bad, []);
    assert.ok(count >= 30, `the rule is not vacuous (${count} time fields)`);
  });

  test('operationIds are unique stable names: module or resource, then a verb', () => {
    const ids = operations().map((o) => o.op.operationId);
    assert.equal(new Set(ids).size, ids.length, 'unique');
    for (const id of ids) assert.match(id, /^[a-z][a-zA-Z]*\.[a-z][a-zA-Z]*$/);
    for (const [p, m, id] of [['/api/v1/notes', 'post', 'notes.create'], ['/api/v1/notes/{id}', 'get', 'notes.get'],
      ['/api/v1/notes', 'get', 'notes.list'], ['/api/v1/auth/login', 'post', 'auth.login']])
      assert.equal(doc.paths[p][m].operationId, id);
  });

  test('credentials: bearer (JWT, API key, operator token), X-Api-Key and the session cookie', async () => {
    const s = doc.components.securitySchemes;
    assert.deepEqual({ type: s.bearer.type, scheme: s.bearer.scheme }, { type: 'http', scheme: 'bearer' });
    assert.deepEqual({ type: s.apiKey.type, in: s.apiKey.in, name: s.apiKey.name }, { type: 'apiKey', in: 'header', name: 'X-Api-Key' });
    assert.deepEqual({ type: s.cookie.type, in: s.cookie.in }, { type: 'apiKey', in: 'cookie' });
    // the cookie the document names is the one sign-in sets, and it works alone
    const signIn = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'oa', email: 'own@oa.example', password: SCENARIO_PW, cookie: true },
    });
    const set = signIn.headers['set-cookie'].map((c) => c.split(';')[0]);
    const access = set.find((c) => c.startsWith(`${s.cookie.name}=`));
    assert.ok(access, `sign-in sets ${s.cookie.name}`);
    assert.equal((await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: access } })).status, 200);
    // the realtime upgrade checks the credential itself, yet it is not public
    const connect = doc.paths['/api/v1/realtime'].get;
    assert.deepEqual(connect.security, [{ bearer: [] }, { apiKey: [] }, { cookie: [] }]);
    const key = walk.apiKey;
    assert.equal((await request(`${srv.url}/api/v1/notes`, { headers: { [s.apiKey.name]: key } })).status, 200);
  });

  test('parameters: Idempotency-Key where it is honoured, every path parameter declared', () => {
    const idem = (p) => doc.paths[p].post.parameters.find((x) => x.in === 'header' && x.name === 'Idempotency-Key');
    assert.ok(idem('/api/v1/interactions'));
    assert.ok(idem('/api/v1/interactions/batch'));
    assert.equal(idem('/api/v1/notes'), undefined);
    for (const { path: p, op } of operations())
      for (const [, name] of p.matchAll(/\{(\w+)\}/g))
        assert.ok(op.parameters.some((x) => x.in === 'path' && x.name === name && x.required), `${op.operationId} declares ${name}`);
    assert.deepEqual(doc.servers, [{ url: '/' }]);
  });

  test('console files are served but are not API operations', async () => {
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/console')), []);
    assert.equal((await request(`${srv.url}/console/`)).status, 200);
  });

  test('redocly lint (recommended rules) reports no error', async () => {
    const file = path.join(tempDir('cairn-e2e-lint-'), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const bin = path.join(REPO_ROOT, 'node_modules', '.bin', 'redocly');
    const out = await new Promise((resolveRun) => {
      execFile(bin, ['lint', '--format', 'stylish', file], {
        cwd: path.dirname(file), timeout: 120_000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', NO_COLOR: '1' },
      }, (err, stdout, stderr) => resolveRun({ code: err ? err.code : 0, stdout, stderr }));
    });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.doesNotMatch(out.stdout + out.stderr, /\berror\b.*\(/i);
  });
});
