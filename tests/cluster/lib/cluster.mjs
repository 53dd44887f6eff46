// A three-node cluster for the tests of tests/cluster: the topology of scripts/cluster
// (PostgreSQL 15 with fsync on, a NATS server, N `cairn serve` nodes on one database and
// HAProxy in front, all on 127.0.0.1), started by that script, so the tests exercise what a
// newcomer runs. Everything it starts is stopped when the test file's process exits,
// however it exits (a synchronous `scripts/cluster down` from the exit handler).
//
// NATS: the nodes talk through it (CAIRN_NATS_URL, CAIRN_CLUSTER_NODES), as scripts/cluster
// runs them by default; {nats: false} runs them without a bus (scripts/cluster --no-nats).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CAIRN_BIN, REPO_ROOT, TOKEN, cleanEnv, closeClients, request, runCli, runProgram, sleep, waitFor,
} from '../../e2e/lib/server.mjs';

export {
  MIGRATIONS, TOKEN, api, assertProblem, closeClients, request, runCli, sleep, waitFor, withTimeout,
} from '../../e2e/lib/server.mjs';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'cluster');
const PG_TEST = path.join(REPO_ROOT, 'scripts', 'pg-test');
const PSQL_ENV = { ...process.env, PGCLIENTENCODING: 'UTF8' };

const running = new Set(); // cluster directories not yet down

process.on('exit', () => {
  for (const dir of running) down(dir);
});

function down(dir) {
  spawnSync(SCRIPT, ['down', dir], { stdio: 'ignore', timeout: 60_000 });
  let pgDir = null;
  try { pgDir = readFileSync(path.join(dir, 'pg_dir'), 'utf8').trim(); } catch { /* DIR/pg */ }
  if (pgDir) rmSync(pgDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  running.delete(dir);
}

/** Runs a program to its end: {code, stdout, stderr}; killed after timeoutMs. */
function run(cmd, args, { env = process.env, timeoutMs = 60_000 } = {}) {
  return runProgram(cmd, args, { env, timeoutMs });
}

/** True while pid runs (a zombie nobody reaped yet counts as gone). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Rows of a query on the database at url, as objects (psql's json_agg). */
export async function psqlQuery(url, sql) {
  const r = await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-A', '-t', '-c',
    `SELECT coalesce(json_agg(q), '[]') FROM (${sql.replace(/[\s;]+$/, '')}) AS q`], { env: PSQL_ENV });
  if (r.code !== 0) throw new Error(`psql failed (${r.code}): ${r.stderr.trim()}\n  in: ${sql}`);
  return JSON.parse(r.stdout);
}

/** The first column of the first row. */
export async function psqlValue(url, sql) {
  const [row] = await psqlQuery(url, sql);
  return row === undefined ? undefined : Object.values(row)[0];
}

/** Environment for the cluster's nodes: generous rate limits, as the e2e servers get. */
const NODE_ENV = {
  CAIRN_BOOTSTRAP_TOKEN: TOKEN, CAIRN_THREADS: '2', CAIRN_RATE_IP_PER_MIN: '10000000',
  CAIRN_RATE_USER_PER_MIN: '10000000', CAIRN_RATE_AUTH_PER_MIN: '10000000',
};

/**
 * Starts `scripts/cluster up` in a new directory and resolves to the cluster:
 * {url, dir, dbUrl, nodes: [{n, url, port, pid}], ...methods}. env adds CAIRN_* settings
 * for every node.
 */
export async function startCluster({ nodes = 3, env = {}, nats = true } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cairn-cluster-'));
  running.add(dir);
  const childEnv = cleanEnv({ CAIRN_BIN, ...NODE_ENV, ...env });
  const r = await run(SCRIPT, ['up', dir, '--nodes', String(nodes), ...(nats ? [] : ['--no-nats'])],
    { env: childEnv, timeoutMs: 120_000 });
  if (r.code !== 0) {
    down(dir);
    throw new Error(`scripts/cluster up failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  }
  const ready = /^cluster ready at (http:\/\/127\.0\.0\.1:(\d+))$/m.exec(r.stdout);
  if (!ready) throw new Error(`scripts/cluster up printed no URL:\n${r.stdout}`);
  const list = [...r.stdout.matchAll(/^node (\d+) (http:\/\/127\.0\.0\.1:(\d+)) pid (\d+)$/gm)]
    .map((m) => ({ n: Number(m[1]), url: m[2], port: Number(m[3]), pid: Number(m[4]) }));
  if (list.length !== nodes) throw new Error(`scripts/cluster up listed ${list.length} nodes:\n${r.stdout}`);
  const file = (name) => readFileSync(path.join(dir, name), 'utf8').trim();
  const pgDir = (() => { try { return file('pg_dir'); } catch { return path.join(dir, 'pg'); } })();
  const statsPort = Number(file('stats_port'));

  const cluster = {
    url: ready[1],
    port: Number(ready[2]),
    dir,
    dbUrl: file('database_url'),
    natsUrl: file('nats_url'),
    nodes: list,
    node: (n) => list.find((x) => x.n === n),
    /** HAProxy's view: {node1: 'UP', node2: 'DOWN', ...} */
    async haproxy() {
      const res = await request(`http://127.0.0.1:${statsPort}/stats;csv`, { keepAlive: false });
      const states = {};
      for (const line of res.text.split('\n')) {
        const f = line.split(',');
        if (f[0] === 'nodes' && /^node\d+$/.test(f[1])) states[f[1]] = f[17];
      }
      return states;
    },
    /** Resolves once HAProxy calls node n `state` (UP or DOWN). */
    async waitHaproxy(n, state, timeoutMs = 20_000) {
      await waitFor(async () => (await cluster.haproxy())[`node${n}`] === state, timeoutMs,
        `HAProxy to mark node ${n} ${state}`, 50);
    },
    /** kill -9 of node n; resolves once it is gone. */
    async kill9(n) {
      const { pid } = cluster.node(n);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !alive(pid), 10_000, `node ${n} (pid ${pid}) to die`);
    },
    /** SIGTERM to node n; resolves once it exited (it finishes its requests first). */
    async stopNode(n) {
      const { pid } = cluster.node(n);
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      await waitFor(() => !alive(pid), 20_000, `node ${n} (pid ${pid}) to stop`);
    },
    /** `scripts/cluster start-node`: node n again, same port; extra env for it alone. */
    async startNode(n, extraEnv = {}) {
      const res = await run(SCRIPT, ['start-node', dir, String(n)],
        { env: cleanEnv({ CAIRN_BIN, ...NODE_ENV, ...env, ...extraEnv }) });
      if (res.code !== 0) throw new Error(`scripts/cluster start-node ${n} failed (${res.code}): ${res.stderr}`);
      const m = /^node \d+ \S+ pid (\d+)$/m.exec(res.stdout);
      cluster.node(n).pid = Number(m[1]);
      return cluster.node(n);
    },
    /** Node n's log lines (JSON lines parsed, others as {text}). */
    logs(n) {
      return readFileSync(path.join(dir, `node${n}`, 'cairn.log'), 'utf8').split('\n').filter(Boolean)
        .map((l) => { try { return JSON.parse(l); } catch { return { text: l }; } });
    },
    /** Stops PostgreSQL (fast shutdown), leaving the nodes running. */
    async pgHalt() {
      const res = await run(PG_TEST, ['halt', pgDir]);
      if (res.code !== 0) throw new Error(`pg-test halt: ${res.stderr}`);
    },
    /** Starts it again on the same port. */
    async pgResume() {
      const res = await run(PG_TEST, ['resume', pgDir]);
      if (res.code !== 0) throw new Error(`pg-test resume: ${res.stderr}`);
    },
    query: (sql) => psqlQuery(cluster.dbUrl, sql),
    value: (sql) => psqlValue(cluster.dbUrl, sql),
    /** `cairn ARGS --database URL --data DIR/node1` beside the running nodes. */
    cli: (args, opts = {}) => runCli([...args, '--database', cluster.dbUrl, '--data', path.join(dir, 'node1')],
      { ...opts, env: { CAIRN_SECRETS_KEY_FILE: path.join(dir, 'secrets.key'), ...(opts.env ?? {}) } }),
    /** Stops everything and removes the directory. */
    async stop() {
      closeClients(cluster.url);
      for (const x of list) closeClients(x.url);
      down(dir);
    },
  };
  return cluster;
}

/**
 * Runs `fn(i)` in `clients` concurrent loops until `until()` is true or deadlineMs passes
 * (then it throws): a bounded load.
 */
export async function load(clients, fn, until, deadlineMs, what) {
  const end = Date.now() + deadlineMs;
  let stop = false;
  let timedOut = false;
  const loops = Array.from({ length: clients }, async (_, i) => {
    while (!stop) {
      if (until()) { stop = true; break; }
      if (Date.now() > end) { stop = true; timedOut = true; break; }
      await fn(i);
    }
  });
  await Promise.all(loops);
  if (timedOut) throw new Error(`timed out after ${deadlineMs} ms: ${what}`);
}
