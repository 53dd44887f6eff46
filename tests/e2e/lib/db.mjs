// The database under an end-to-end test, on either engine. CAIRN_TEST_DRIVER picks it:
// unset or `sqlite` = each data directory's own DATA/cairn.db; `postgres` = one database per
// data directory on a PostgreSQL server shared by the run (CAIRN_TEST_PG_URL, its admin URL,
// as scripts/test-e2e-pg sets it; without it, this process starts one of its own with
// scripts/pg-test and stops it on exit). The helpers here let a test read and write that
// database without knowing which engine holds it.
//
// Only Node built-ins are used; server.mjs re-exports what tests need.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `sqlite` or `postgres`: the engine every server and command of this run uses. */
export const DRIVER = process.env.CAIRN_TEST_DRIVER || 'sqlite';
if (DRIVER !== 'sqlite' && DRIVER !== 'postgres')
  throw new Error(`CAIRN_TEST_DRIVER must be sqlite or postgres (got ${JSON.stringify(DRIVER)})`);
/** For `{ skip: onPostgres && 'why' }` on the few tests about SQLite itself. */
export const onPostgres = DRIVER === 'postgres';

// ---- the PostgreSQL server ----

let adminUrl = null; // postgres://postgres@127.0.0.1:PORT/postgres
let ownPgDir = null; // set when this process started the server (and so stops it)

/** The admin URL of the run's PostgreSQL server, started here if the run has none. */
function pgAdminUrl() {
  if (adminUrl) return adminUrl;
  if (process.env.CAIRN_TEST_PG_URL) {
    adminUrl = process.env.CAIRN_TEST_PG_URL;
    return adminUrl;
  }
  // A file run on its own: a server for this process. Synchronous, so the exit handler
  // below can stop it whatever state the tests left.
  ownPgDir = mkdtempSync(path.join(os.tmpdir(), 'cairn-e2e-pg-'));
  const r = spawnSync(path.join(ROOT, 'scripts', 'pg-test'), ['start', ownPgDir], { encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync(path.join(ROOT, 'scripts', 'pg-test'), ['stop', ownPgDir]);
    ownPgDir = null;
    throw new Error(`scripts/pg-test start failed (${r.status}): ${r.stderr}`);
  }
  adminUrl = r.stdout.trim();
  process.env.CAIRN_TEST_PG_URL = adminUrl; // for anything this process starts
  return adminUrl;
}

// ---- one database per data directory ----

// A data directory's database lives as long as the directory: until this test file's
// process exits. A server stopped and started again on the same directory (restarts,
// kill -9, CLI commands beside or after it) finds its data where it left it.
const databases = new Map(); // resolved data dir -> Promise<{name, url}>
const names = []; // every database this process created
let created = 0;

function psqlArgs(url) {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url];
}
// psql would take its client encoding from the locale, which may not be UTF-8
const PSQL_ENV = { ...process.env, PGCLIENTENCODING: 'UTF8' };

/**
 * The URL of the PostgreSQL database that belongs to dataDir, created on first use
 * (`cairn_e2e_<pid>_<n>`, C collation as the driver requires).
 */
export function databaseUrl(dataDir) {
  if (!onPostgres) throw new Error('databaseUrl: this run is on SQLite');
  const key = path.resolve(dataDir);
  let db = databases.get(key);
  if (!db) {
    const name = `cairn_e2e_${process.pid}_${++created}`;
    const url = new URL(pgAdminUrl());
    url.pathname = `/${name}`;
    db = run('psql', [...psqlArgs(pgAdminUrl()), '-c',
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`])
      .then((r) => {
        if (r.code !== 0) throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
        names.push(name);
        return { name, url: url.href };
      });
    databases.set(key, db);
    db.catch(() => databases.delete(key));
  }
  return db.then((d) => d.url);
}

/**
 * Environment that points a cairn process at dataDir's database: {} on SQLite (the data
 * directory is enough), {CAIRN_DATABASE_URL} on PostgreSQL.
 */
export async function databaseEnv(dataDir) {
  return onPostgres ? { CAIRN_DATABASE_URL: await databaseUrl(dataDir) } : {};
}

/**
 * What runCli and startServer add to a cairn child's environment: the database of the
 * `--data` directory in args, unless the test chose the engine itself (`--database`, or
 * CAIRN_DATABASE_URL in env, where the value undefined means "unset": cairn's default).
 */
export async function databaseEnvForArgs(args, env = {}) {
  if (!onPostgres || 'CAIRN_DATABASE_URL' in env || args.includes('--database')) return {};
  const i = args.indexOf('--data');
  if (i < 0 || i + 1 >= args.length) return {};
  return databaseEnv(args[i + 1]);
}

/**
 * Drops this process's databases (or stops its own server): for server.mjs's exit handler,
 * once the servers it started are killed. Synchronous, as an exit handler must be.
 */
export function dropDatabases() {
  if (!onPostgres || !adminUrl) return;
  if (ownPgDir) {
    // the whole server goes, its databases with it
    spawnSync(path.join(ROOT, 'scripts', 'pg-test'), ['stop', ownPgDir], { stdio: 'ignore' });
    ownPgDir = null;
    return;
  }
  // on the run's shared server, one failure stopping none of the others; FORCE: a killed
  // server's connections may not be gone yet
  if (!names.length) return;
  spawnSync('psql', ['-X', '-q', '-d', adminUrl, ...names.flatMap((n) => ['-c', `DROP DATABASE IF EXISTS ${n} WITH (FORCE)`])],
    { stdio: 'ignore', timeout: 30_000, env: PSQL_ENV });
  names.length = 0;
}

/**
 * Runs sql on the PostgreSQL server as its administrator, outside any test's database
 * (ALTER DATABASE, pg_terminate_backend): for tests of what the server does when its
 * database goes away. {name} in sql is replaced by target's database name.
 */
export async function pgAdmin(target, sql) {
  if (!onPostgres) throw new Error('pgAdmin: this run is on SQLite');
  const dir = target.dataDir ?? target;
  const name = new URL(await databaseUrl(dir)).pathname.slice(1);
  const r = await run('psql', [...psqlArgs(pgAdminUrl()), '-c', sql.replaceAll('{name}', name)]);
  if (r.code !== 0) throw new Error(`pgAdmin: ${r.stderr.trim()}`);
}

// ---- reading and writing a test's database ----

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: PSQL_ENV });
    const out = [];
    const err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', (e) => { clearTimeout(t); reject(e); });
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/**
 * Where a helper's target lives: a server from startServer() or a data directory = that
 * directory's database on the run's engine; {file} = that SQLite file (a backup, say),
 * whatever the engine.
 */
async function resolveTarget(target) {
  if (target && typeof target === 'object' && 'file' in target) return { sqlite: target.file };
  const dir = typeof target === 'string' ? target : target?.dataDir;
  if (typeof dir !== 'string') throw new Error('a database target is a server, a data directory or {file}');
  return onPostgres ? { postgres: await databaseUrl(dir) } : { sqlite: path.join(dir, 'cairn.db') };
}

/** The text of sql for an engine: a string is shared SQL; {sqlite, postgres} per engine. */
function sqlFor(sql, engine) {
  const text = typeof sql === 'string' ? sql : sql?.[engine];
  if (typeof text !== 'string') throw new Error(`no ${engine} text for this statement`);
  return text;
}

const dbError = (what, sql, r) => new Error(`${what} failed (${r.code}): ${r.stderr.trim()}\n  in: ${sql}`);

/**
 * Runs one query (a SELECT; on SQLite a PRAGMA too) and resolves to its rows as objects
 * keyed by column name. Values are JSON's: numbers, strings, null; a boolean expression is 0/1 on
 * SQLite and true/false on PostgreSQL. Name every computed column (`count(*) AS n`): the
 * engines name them differently. sql is shared SQL (no engine-only functions) or
 * {sqlite, postgres}.
 */
export async function dbQuery(target, sql) {
  const t = await resolveTarget(target);
  if (t.sqlite) {
    const text = sqlFor(sql, 'sqlite');
    const r = await run('sqlite3', ['-json', '-cmd', '.timeout 5000', t.sqlite, text]);
    if (r.code !== 0) throw dbError('sqlite3', text, r);
    return r.stdout.trim() ? JSON.parse(r.stdout) : [];
  }
  const text = sqlFor(sql, 'postgres').replace(/[\s;]+$/, '');
  const r = await run('psql', [...psqlArgs(t.postgres), '-A', '-t', '-c',
    `SELECT coalesce(json_agg(q), '[]') FROM (${text}) AS q`]);
  if (r.code !== 0) throw dbError('psql', text, r);
  return JSON.parse(r.stdout);
}

/** The first column of dbQuery's first row (undefined without a row). */
export async function dbValue(target, sql) {
  const [row] = await dbQuery(target, sql);
  return row === undefined ? undefined : Object.values(row)[0];
}

/**
 * Runs statements that return nothing (`;`-separated, in one transaction on PostgreSQL).
 * sql is shared SQL or {sqlite, postgres}.
 */
export async function dbExec(target, sql) {
  const t = await resolveTarget(target);
  const [cmd, args, text] = t.sqlite
    ? ['sqlite3', ['-cmd', '.timeout 5000', t.sqlite], sqlFor(sql, 'sqlite')]
    : ['psql', [...psqlArgs(t.postgres), '-c'], sqlFor(sql, 'postgres')];
  const r = await run(cmd, [...args, text]);
  if (r.code !== 0) throw dbError(cmd, text, r);
}

/** sql quoted as a string literal both engines read the same (control characters too). */
export function sqlString(s) {
  if (s.includes('\0')) throw new Error('sqlString: a NUL cannot be passed to a client');
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Opens a client session on target's database, as another process of the operator's
 * would, and resolves to {run(sql), close()}: run resolves once the statements ran (a
 * transaction opened by one stays open, with its locks, until a later run or close);
 * close() commits whatever is open and ends the client (until then the client keeps the
 * test's process alive: close it in a finally when something can throw in between).
 */
export async function dbSession(target) {
  const t = await resolveTarget(target);
  const engine = t.sqlite ? 'sqlite' : 'postgres';
  const p = t.sqlite
    ? spawn('sqlite3', [t.sqlite], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('psql', [...psqlArgs(t.postgres), '-A', '-t'], { stdio: ['pipe', 'pipe', 'pipe'], env: PSQL_ENV });
  let out = '';
  let err = '';
  let marks = 0;
  p.stdout.setEncoding('utf8');
  p.stderr.setEncoding('utf8');
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const closed = new Promise((resolve) => p.on('close', resolve));
  p.stdin.on('error', () => {});
  return {
    async run(sql) {
      const mark = `cairn-e2e-mark-${++marks}`;
      p.stdin.write(`${sqlFor(sql, engine).replace(/[\s;]+$/, '')};\nSELECT '${mark}';\n`);
      const deadline = Date.now() + 10_000;
      while (!out.includes(mark)) {
        if (p.exitCode !== null || err || Date.now() > deadline)
          throw new Error(`db session: ${err.trim() || 'no answer'} (${p.exitCode})`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      p.stdin.end('COMMIT;\n');
      await closed;
    },
  };
}
