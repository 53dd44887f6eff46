// A check of the harness itself (db.mjs), not of cairn: run by hand after changing db.mjs,
// on each engine (it is not a *.test.mjs file, so `node --test tests/e2e/` leaves it out):
//
//   node --test tests/e2e/lib/db-selfcheck.mjs
//   scripts/test-e2e-pg tests/e2e/lib/db-selfcheck.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import {
  DRIVER, REPO_ROOT, databaseUrl, dbExec, dbQuery, dbSession, dbValue, onPostgres, runCli, sleep, sqlString,
  startServer, tempDir,
} from './server.mjs';

const TABLE = 'CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL, at BIGINT, score DOUBLE PRECISION)';
const AWKWARD = "it's \r\n\"odd\" \u202e\u0085\u2028\u0007 é ☃ 😀 \\ %";

test(`rows written and read back through the helpers (${DRIVER})`, async () => {
  const dir = tempDir();
  await dbExec(dir, TABLE);
  await dbExec(dir, `INSERT INTO t VALUES (1, ${sqlString(AWKWARD)}, 1765000000123, 0.1); INSERT INTO t VALUES (2, 'b', NULL, -2.5)`);
  assert.deepEqual(await dbQuery(dir, 'SELECT id, name, at, score FROM t ORDER BY id'), [
    { id: 1, name: AWKWARD, at: 1765000000123, score: 0.1 },
    { id: 2, name: 'b', at: null, score: -2.5 },
  ]);
  assert.deepEqual(await dbQuery(dir, 'SELECT id FROM t WHERE id > 5'), [], 'no row: an empty list');
  assert.equal(await dbValue(dir, 'SELECT count(*) FROM t;'), 2, 'a trailing ; is fine');
  assert.equal(await dbValue(dir, 'SELECT id FROM t WHERE id > 5'), undefined);
  // a server object stands for its data directory
  assert.equal(await dbValue({ dataDir: dir }, "SELECT name FROM t WHERE id = 2"), 'b');
  // per-engine text
  const engine = await dbValue(dir, { sqlite: "SELECT 'sqlite' AS e", postgres: "SELECT 'postgres' AS e" });
  assert.equal(engine, DRIVER);
  const otherEngine = onPostgres ? 'sqlite' : 'postgres';
  await assert.rejects(dbValue(dir, { [otherEngine]: 'SELECT 1' }), new RegExp(`no ${DRIVER} text`));
  // errors carry the engine's message and the statement
  await assert.rejects(dbQuery(dir, 'SELECT nope FROM t'), /nope/);
  await assert.rejects(dbExec(dir, "INSERT INTO t VALUES (1, 'dup', 0, 0)"), /UNIQUE|unique/);
  // another directory, another database
  const other = tempDir();
  await dbExec(other, TABLE);
  assert.equal(await dbValue(other, 'SELECT count(*) AS n FROM t'), 0);
  // an SQLite file by name, whatever the engine
  const file = path.join(tempDir(), 'x.db');
  await dbExec({ file }, 'CREATE TABLE f (a TEXT)');
  assert.deepEqual(await dbQuery({ file }, "SELECT 'sqlite' AS e, count(*) AS n FROM f"), [{ e: 'sqlite', n: 0 }]);
});

test('one database per data directory, in the C collation', { skip: !onPostgres && 'PostgreSQL only' }, async () => {
  const dir = tempDir();
  const [a, b] = await Promise.all([databaseUrl(dir), databaseUrl(`${dir}/.`)]);
  assert.equal(a, b, 'the same directory, however spelt and asked at once: one database');
  assert.notEqual(await databaseUrl(tempDir()), a);
  assert.deepEqual(await dbQuery(dir, 'SELECT datcollate, datctype, pg_encoding_to_char(encoding) AS enc FROM pg_database WHERE datname = current_database()'),
    [{ datcollate: 'C', datctype: 'C', enc: 'UTF8' }]);
  assert.match(a, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/cairn_e2e_\d+_\d+$/);
});

test('a session holds its transaction and locks until closed', async () => {
  const dir = tempDir();
  await dbExec(dir, TABLE);
  const s = await dbSession(dir);
  await s.run({ sqlite: 'BEGIN IMMEDIATE', postgres: 'BEGIN; LOCK TABLE t IN EXCLUSIVE MODE' });
  let done = false;
  const write = dbExec(dir, "INSERT INTO t VALUES (9, 'after', 0, 0)").then(() => { done = true; });
  await sleep(500);
  assert.equal(done, false, 'the write waits for the session');
  await s.close();
  await write;
  assert.equal(await dbValue(dir, 'SELECT name FROM t WHERE id = 9'), 'after');
});

test('cairn gets the data directory\'s database', async () => {
  const dir = tempDir();
  const check = await runCli(['config', 'check', '--data', dir]);
  assert.equal(check.code, 0, check.stderr);
  const line = check.stdout.split('\n').find((l) => l.startsWith('store.url = '));
  if (onPostgres) assert.equal(line, `store.url = ${await databaseUrl(dir)}  # env`);
  else assert.equal(line, 'store.url =   # default');
  // the test's own choice wins; undefined = unset = cairn's default
  const own = await runCli(['config', 'check', '--data', dir], { env: { CAIRN_DATABASE_URL: undefined } });
  assert.ok(own.stdout.split("\n").includes("store.url =   # default"), own.stdout);
  // a server: on PostgreSQL it is handed the same URL (refused with 78 while cairn has no
  // PostgreSQL driver; served once it has)
  const outcome = await startServer({ dataDir: dir }).then((s) => s.stop().then(() => 'served'), (e) => e.message);
  if (onPostgres && outcome !== 'served') assert.match(outcome, /exited with 78[\s\S]*no PostgreSQL driver yet/);
  else assert.equal(outcome, 'served');
});

test('a test file\'s databases are dropped when its process exits', { skip: !onPostgres && 'PostgreSQL only' }, async () => {
  await databaseUrl(tempDir()); // this process's server (started here when the run has none)
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { databaseUrl } from ${JSON.stringify(path.join(REPO_ROOT, 'tests/e2e/lib/server.mjs'))};
    console.log(new URL(await databaseUrl(process.cwd())).pathname.slice(1));`], { encoding: 'utf8', env: process.env });
  assert.equal(child.status, 0, child.stderr);
  const name = child.stdout.trim();
  assert.match(name, new RegExp(`^cairn_e2e_${child.pid}_1$`));
  assert.equal(await dbValue(tempDir(), `SELECT count(*) FROM pg_database WHERE datname = ${sqlString(name)}`), 0);
  assert.ok(Number(await dbValue(tempDir(), "SELECT count(*) FROM pg_database WHERE datname LIKE 'cairn_e2e_%'")) >= 1,
    'this process\'s own are still there');
});
