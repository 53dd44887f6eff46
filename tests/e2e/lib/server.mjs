// Helpers for Cairn end-to-end tests: start/stop the real binary, talk HTTP to it
// (JSON, raw sockets) and run CLI commands. Only Node built-ins are used.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseEnvForArgs, dropDatabases } from './db.mjs';

// the engine under test (CAIRN_TEST_DRIVER) and driver-neutral access to a test's database
export {
  DRIVER, onPostgres, databaseEnv, databaseUrl, dbExec, dbQuery, dbSession, dbValue, pgAdmin, sqlString,
} from './db.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CAIRN_BIN = path.resolve(REPO_ROOT, process.env.CAIRN_BIN || 'build/cairn');

export const TOKEN = 'e2e-test-token';
/** Every migration this binary ships, in apply order: update when a module adds one. */
export const MIGRATIONS = ['auth/1 create_identity', 'auth/2 create_login_failures', 'auth/3 refresh_in_session', 'auth/4 create_api_keys', 'auth/5 create_audit_log', 'auth/6 refresh_history', 'auth/7 create_mfa', 'auth/8 create_roles', 'auth/9 tenant_policy', 'auth/10 audit_without_prev_hash', 'auth/11 tenant_registration', 'auth/12 password_resets', 'auth/13 login_failures_per_ip', 'auth/14 registration_confirmation', 'auth/15 signing_key_retirement', 'auth/16 registration_password_at_confirm', 'auth/17 login_failures_known_clients', 'auth/18 mfa_challenge_session_end', 'jobs/1 create_jobs', 'jobs/2 job_progress', 'realtime/1 create_realtime', 'notes/1 create_notes', 'notes/2 note_analysis', 'insights/1 create_insights', 'insights/2 search_by_tenant', 'insights/3 search_merge_in_steps', 'insights/4 rollups_by_segment'];
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const live = new Set(); // every process started here, killed on exit if a test forgot
const servers = new Set(); // every startServer() result not yet stopped
const tempDirs = new Set();

process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  dropDatabases(); // on PostgreSQL: the data directories' databases go with them
});

export function tempDir(prefix = 'cairn-e2e-') {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** Environment for a child: the caller's, minus any CAIRN_* that would leak into the test. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('CAIRN_')) env[k] = v;
  return { ...env, ...extra };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects after ms with a message, unless the promise settles first. */
export function withTimeout(promise, ms, what) {
  let t;
  const timer = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

/** Polls fn() until it returns a truthy value, or throws after timeoutMs. */
export async function waitFor(fn, timeoutMs, what, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function exitCodeOf(code, signal) {
  if (code !== null) return code;
  return 128 + (os.constants.signals[signal] ?? 0);
}

/**
 * Starts `cairn serve --listen 127.0.0.1:0 --data DIR` and resolves once it prints its
 * listening line (at most 10 s). The bearer token defaults to TOKEN and the thread count
 * to 2; pass env {CAIRN_BOOTSTRAP_TOKEN: undefined} to leave the token unset. On
 * PostgreSQL the server gets DIR's own database (CAIRN_DATABASE_URL), the same one each
 * time it is started on DIR, unless env or args name a database.
 */
/*
 * With CAIRN_TEST_NATS_URL (scripts/test-e2e-pg), every server talks to that NATS, each as
 * a cluster of its own (cluster.name), so servers of different tests never hear each other;
 * a test that runs several nodes of one cluster gives them one name (lib/cluster.mjs).
 */
let clusters = 0;
function natsEnv() {
  const url = process.env.CAIRN_TEST_NATS_URL;
  return url ? { CAIRN_NATS_URL: url, CAIRN_CLUSTER_NAME: `t${process.pid}-${++clusters}` } : {};
}

export async function startServer({ env = {}, args = [], dataDir } = {}) {
  const dir = dataDir ?? tempDir();
  let server = null;
  // rate limits high enough for test traffic; tests of the limits set their own
  const childEnv = cleanEnv({
    CAIRN_BOOTSTRAP_TOKEN: TOKEN, CAIRN_THREADS: '2', CAIRN_RATE_IP_PER_MIN: '10000000',
    CAIRN_RATE_USER_PER_MIN: '10000000', CAIRN_RATE_AUTH_PER_MIN: '10000000', ...natsEnv(),
    ...(await databaseEnvForArgs(['--data', dir, ...args], env)), ...env,
  });
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const proc = spawn(CAIRN_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', dir, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const lines = [];
  let partial = '';
  let scheme = 'http';
  const stdout = [];
  proc.stdout.on('data', (d) => stdout.push(d));
  proc.stderr.setEncoding('utf8');
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      servers.delete(server);
      resolve(exitCodeOf(code, signal));
    });
  });
  // Drain stderr fully before the process counts as finished for readers of stderrLines().
  const stderrDone = new Promise((resolve) => proc.stderr.on('end', resolve));

  const port = await withTimeout(
    new Promise((resolve, reject) => {
      proc.stderr.on('data', (chunk) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop();
        for (const line of parts) {
          lines.push(line);
          const m = /^listening on (https?):\/\/127\.0\.0\.1:(\d+)$/.exec(line);
          if (m) {
            scheme = m[1];
            resolve(Number(m[2]));
          }
        }
      });
      proc.on('error', reject);
      exited.then((code) =>
        reject(new Error(`cairn serve exited with ${code} before listening:\n${lines.join('\n')}${partial}`)));
    }),
    10_000,
    'cairn serve to print its listening line',
  ).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });

  server = {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    proc,
    dataDir: dir,
    exited,
    /** stderr lines so far (a trailing unterminated line included) */
    stderrLines: () => (partial ? [...lines, partial] : [...lines]),
    /** stderr lines parsed as JSON (non-JSON lines skipped) */
    logs: () => server.stderrLines().flatMap((l) => {
      try { return [JSON.parse(l)]; } catch { return []; }
    }),
    stdout: () => Buffer.concat(stdout).toString('utf8'),
    /**
     * Sends signal (SIGTERM) and resolves to the exit code; SIGKILLs after timeoutMs.
     * Closes this process's idle pooled connections first unless keepClients is set.
     */
    async stop(signal = 'SIGTERM', timeoutMs = 15_000, { keepClients = false } = {}) {
      if (!keepClients) closeClients(server.url);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let timedOut = false;
      const t = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
      const code = await exited;
      clearTimeout(t);
      await withTimeout(stderrDone, 5000, 'stderr to close').catch(() => {});
      if (timedOut) throw new Error(`cairn did not exit within ${timeoutMs} ms of ${signal}`);
      return code;
    },
    kill9() {
      return server.stop('SIGKILL');
    },
  };
  servers.add(server);
  return server;
}

// ---- HTTP over node:http ----

// One keep-alive agent per server origin, so a server's pooled client connections can be
// closed before it is stopped (see closeClients).
const agents = new Map();
function agentFor(url) {
  const origin = new URL(url).origin;
  let a = agents.get(origin);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(origin, a);
  }
  return a;
}

/** Closes this process's pooled keep-alive connections to the server at url. */
export function closeClients(url) {
  const origin = new URL(url).origin;
  agents.get(origin)?.destroy();
  agents.delete(origin);
}

/**
 * One HTTP request. body: object (sent as JSON), string or Buffer (sent as is).
 * Resolves to {status, headers, text, json}; json is the parsed body when it is JSON.
 */
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10_000, keepAlive = true } = {}) {
  let payload;
  const h = { ...headers };
  if (body !== undefined && body !== null) {
    if (Buffer.isBuffer(body) || typeof body === 'string') payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    h['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, agent: keepAlive ? agentFor(url) : false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        const ct = res.headers['content-type'] || '';
        if (/json/.test(ct) && text.length) {
          try { json = JSON.parse(text); } catch { json = undefined; }
        }
        resolve({ status: res.statusCode, reason: res.statusMessage, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** JSON API client bound to a base url and (optionally) a bearer token. */
export function api(url, token = TOKEN) {
  const call = (method, p, body, headers = {}) =>
    request(url + p, {
      method,
      body,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
  return {
    get: (p, headers) => call('GET', p, undefined, headers),
    head: (p, headers) => call('HEAD', p, undefined, headers),
    post: (p, body, headers) => call('POST', p, body, headers),
    put: (p, body, headers) => call('PUT', p, body, headers),
    patch: (p, body, headers) => call('PATCH', p, body, headers),
    delete: (p, headers) => call('DELETE', p, undefined, headers),
    options: (p, headers) => call('OPTIONS', p, undefined, headers),
    request: (method, p, body, headers) => call(method, p, body, headers),
  };
}

// ---- raw sockets ----

/** Connects a raw TCP socket (resolves once connected, 5 s max). */
export function connect(port) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', reject);
    }),
    5000,
    'TCP connect',
  );
}

/**
 * Parses complete HTTP/1.1 responses (Content-Length framed) from buf. methods[i] is the
 * method of the i-th request, so HEAD responses are read without a body.
 * Returns {responses, rest}.
 */
export function parseResponses(buf, methods = []) {
  const responses = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`not an HTTP response at offset ${off}: ${JSON.stringify(statusLine.slice(0, 80))}`);
    const headers = {};
    for (const l of headerLines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const method = methods[responses.length] || 'GET';
    const status = Number(m[1]);
    const len = method === 'HEAD' || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) break;
    const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
    responses.push({ status, headers, body });
    off = end + 4 + len;
  }
  return { responses, rest: buf.subarray(off) };
}

/**
 * Writes data on a fresh socket in one write and collects `count` responses (or until the
 * server closes). Resolves to {responses, closed, raw, socket}; the socket is left open
 * unless the server closed it.
 */
export async function rawExchange(port, data, { count = 1, methods = [], timeoutMs = 5000, socket } = {}) {
  const s = socket ?? (await connect(port));
  let buf = Buffer.alloc(0);
  let closed = false;
  const result = await withTimeout(
    new Promise((resolve, reject) => {
      const check = () => {
        const { responses } = parseResponses(buf, methods);
        if (responses.length >= count || closed) {
          cleanup();
          resolve({ responses, closed, raw: buf, socket: s });
        }
      };
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        try { check(); } catch (e) { cleanup(); reject(e); }
      };
      const onClose = () => { closed = true; check(); };
      const onError = () => { closed = true; check(); };
      const cleanup = () => {
        s.off('data', onData);
        s.off('close', onClose);
        s.off('error', onError);
      };
      s.on('data', onData);
      s.on('close', onClose);
      s.on('error', onError);
      s.write(data);
    }),
    timeoutMs,
    `raw exchange of ${count} response(s)`,
  ).catch((e) => {
    s.destroy();
    throw e;
  });
  return result;
}

// ---- CLI ----

/**
 * Runs `cairn ...args`; resolves to {code, stdout, stderr}. Killed after timeoutMs. With
 * `input`, that text is written to its standard input (for --password-stdin). On
 * PostgreSQL a command with `--data DIR` gets DIR's database, as startServer does.
 */
export async function runCli(args, { env = {}, timeoutMs = 10_000, cwd, input } = {}) {
  const childEnv = cleanEnv({ ...(await databaseEnvForArgs(args, env)), ...env });
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const stdin = input === undefined ? 'ignore' : 'pipe';
    const p = spawn(CAIRN_BIN, args, { env: childEnv, cwd: cwd ?? tempDir(), stdio: [stdin, 'pipe', 'pipe'] });
    live.add(p);
    const out = [];
    const err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(t); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      live.delete(p);
      const res = { code: exitCodeOf(code, signal), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (timedOut) reject(new Error(`cairn ${args.join(' ')} did not finish within ${timeoutMs} ms\n${res.stderr}`));
      else resolve(res);
    });
    if (input !== undefined) {
      p.stdin.on('error', () => {}); // cairn may exit before reading stdin (EPIPE)
      p.stdin.end(input);
    }
  });
}

/** Runs a program (e.g. openssl) and resolves to {code, stdout, stderr}; env defaults to
 *  this process's. */
export function runProgram(cmd, args, { input, env = process.env, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => { clearTimeout(t); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: exitCodeOf(code, signal), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    p.stdin.on('error', () => {}); // the program may exit before reading stdin (EPIPE)
    p.stdin.end(input ?? '');
  });
}

/** Asserts the shape every error response must have (RFC 9457 problem+json). */
export function assertProblem(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
  const p = JSON.parse(res.text);
  assert.equal(typeof p.type, 'string');
  assert.ok(p.type.length > 0, 'type is not empty');
  assert.equal(typeof p.title, 'string');
  assert.ok(p.title.length > 0, 'title is not empty');
  assert.equal(p.status, status);
  assert.equal(typeof p.detail, 'string');
  assert.equal(typeof p.request_id, 'string');
  assert.equal(p.request_id, res.headers['x-request-id'], 'request_id matches X-Request-Id');
  return p;
}

/** Stops every server still running (SIGTERM, then SIGKILL). Use as `after(stopAllServers)`. */
export async function stopAllServers() {
  await Promise.all([...servers].map((s) => s.stop('SIGTERM', 10_000).catch(() => s.kill9().catch(() => {}))));
}

/** runCli with input on standard input (for --password-stdin). */
export function runCliWithInput(args, input, opts = {}) {
  return runCli(args, { ...opts, input });
}
