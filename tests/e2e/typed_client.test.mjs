// Typed clients from the OpenAPI document: openapi-typescript generates types from the
// served /api/openapi.json and `tsc --strict` checks a program that reads every operation's
// answer (tests/e2e/typed/client.ts) and one that uses the SDK's types
// (tests/e2e/typed/sdk.ts); the SDK's generated sdk/js/api.d.ts must be what the binary
// produces now (scripts/sdk-types), and `cairn openapi` prints the served document.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, request, runCli, startServer, stopAllServers, tempDir } from './lib/server.mjs';

after(stopAllServers);

const bin = (name) => path.join(REPO_ROOT, 'node_modules', '.bin', name);

function run(cmd, args, cwd) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 300_000, maxBuffer: 64 << 20, env: { ...process.env, REDOCLY_TELEMETRY: 'off', NO_COLOR: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

let served;
let dir;

before(async () => {
  const srv = await startServer();
  const res = await request(`${srv.url}/api/openapi.json`);
  assert.equal(res.status, 200);
  served = res.text;
  await srv.stop();
  dir = tempDir('cairn-e2e-typed-');
  writeFileSync(path.join(dir, 'openapi.json'), served);
  const gen = await run(bin('openapi-typescript'), ['openapi.json', '-o', 'api.d.ts'], dir);
  assert.equal(gen.code, 0, gen.stderr);
});

test('cairn openapi prints the document the server serves', async () => {
  const r = await runCli(['openapi']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), JSON.parse(served));
});

test('sdk/js/api.d.ts is what openapi-typescript makes of the current document (scripts/sdk-types)', () => {
  const generated = readFileSync(path.join(dir, 'api.d.ts'), 'utf8');
  const committed = readFileSync(path.join(REPO_ROOT, 'sdk', 'js', 'api.d.ts'), 'utf8');
  // shown line by line; run scripts/sdk-types (make sdk) to rewrite it
  assert.deepEqual(committed.split('\n'), generated.split('\n'), 'sdk/js/api.d.ts is stale: run make sdk');
});

test('a program reading every operation\'s answer type-checks with tsc --strict, and so do the SDK\'s types', async () => {
  copyFileSync(path.join(REPO_ROOT, 'tests', 'e2e', 'typed', 'client.ts'), path.join(dir, 'client.ts'));
  const r = await run(bin('tsc'), ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext',
    '--moduleResolution', 'bundler', '--types', 'node', path.join(dir, 'client.ts'),
    path.join(REPO_ROOT, 'tests', 'e2e', 'typed', 'sdk.ts')], REPO_ROOT);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
});

test('the check has teeth: an answer without its schema does not type-check', async () => {
  const doc = JSON.parse(served);
  delete doc.paths['/api/v1/notes/{id}'].get.responses['200'].content;
  const broken = tempDir('cairn-e2e-typed-broken-');
  writeFileSync(path.join(broken, 'openapi.json'), JSON.stringify(doc));
  assert.equal((await run(bin('openapi-typescript'), ['openapi.json', '-o', 'api.d.ts'], broken)).code, 0);
  copyFileSync(path.join(REPO_ROOT, 'tests', 'e2e', 'typed', 'client.ts'), path.join(broken, 'client.ts'));
  const r = await run(bin('tsc'), ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext',
    '--moduleResolution', 'bundler', 'client.ts'], broken);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /client\.ts\(\d+,\d+\): error TS2339: Property 'body' does not exist on type 'never'/);
});
