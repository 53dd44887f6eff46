// One server per address and per data directory: a second `cairn serve` is refused instead
// of silently sharing the first one's connections or database; the lock on the data
// directory goes with its holder, and the admin commands keep working beside a server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  TOKEN, api, onPostgres, request, runCli, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const SERVE_ENV = { CAIRN_BOOTSTRAP_TOKEN: TOKEN, CAIRN_THREADS: '2' };

describe('one server per address', () => {
  test('a second serve on an address in use exits 78 naming it; the first keeps every connection', async () => {
    const first = await startServer({ env: { CAIRN_THREADS: '4' } });
    const addr = `127.0.0.1:${first.port}`;
    const fresh = path.join(tempDir(), 'never-created');
    const second = await runCli(['serve', '--listen', addr, '--data', fresh], { env: SERVE_ENV, timeoutMs: 15_000 });
    assert.equal(second.code, 78, second.stderr);
    assert.match(second.stderr, new RegExp(`${addr.replace(/\./g, '\\.')} is already in use`));
    assert.doesNotMatch(second.stderr, /listening on/);
    assert.equal(existsSync(fresh), false, 'nothing is created before the address is taken');

    // every fresh connection reaches the first server (whose data holds the notes)
    const c = api(first.url);
    const made = await Promise.all(Array.from({ length: 24 }, (_, i) =>
      request(`${first.url}/api/v1/notes`, {
        method: 'POST', keepAlive: false, body: { title: `n${i}` }, headers: { authorization: `Bearer ${TOKEN}` },
      })));
    assert.deepEqual(made.map((r) => r.status), Array(24).fill(201));
    assert.equal((await c.get('/api/v1/notes?limit=200')).json.items.length, 24);
    assert.equal(await first.stop(), 0);
  });

  test('several loops of one process share the port (port 0 included)', async () => {
    const srv = await startServer({ env: { CAIRN_THREADS: '4' } });
    const res = await Promise.all(Array.from({ length: 40 }, () =>
      request(`${srv.url}/healthz`, { keepAlive: false })));
    assert.deepEqual(res.map((r) => r.status), Array(40).fill(200));
    assert.equal(await srv.stop(), 0);
  });
});

// DATA/cairn.lock guards the SQLite file. On PostgreSQL nodes share one database by design,
// and `cairn migrate` takes the database's advisory lock instead.
const LOCK_IS_SQLITE = 'the data directory lock guards the SQLite database';

describe('one server per data directory', { skip: onPostgres && LOCK_IS_SQLITE }, () => {
  test('a second serve on a data directory in use exits 75 naming the holder\'s pid', async () => {
    const first = await startServer();
    assert.equal(readFileSync(path.join(first.dataDir, 'cairn.lock'), 'utf8').trim(), String(first.proc.pid));
    const second = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', first.dataDir],
      { env: SERVE_ENV, timeoutMs: 15_000 });
    assert.equal(second.code, 75, second.stderr);
    assert.match(second.stderr, new RegExp(`in use by another cairn process \\(pid ${first.proc.pid}\\b`));
    assert.doesNotMatch(second.stderr, /listening on|migration applied/);
    assert.equal((await request(`${first.url}/healthz`)).status, 200);
    assert.equal(await first.stop(), 0);
    // a clean stop leaves no pid behind; the next server starts
    assert.equal(readFileSync(path.join(first.dataDir, 'cairn.lock'), 'utf8'), '');
    const next = await startServer({ dataDir: first.dataDir });
    assert.equal(await next.stop(), 0);
  });

  test('the lock dies with its holder: after SIGKILL a new server starts at once', async () => {
    const first = await startServer();
    await first.kill9();
    const next = await startServer({ dataDir: first.dataDir });
    assert.equal((await request(`${next.url}/healthz`)).status, 200);
    assert.equal(readFileSync(path.join(first.dataDir, 'cairn.lock'), 'utf8').trim(), String(next.proc.pid));
    assert.equal(await next.stop(), 0);
  });

  test('migrate refuses (75) while a server runs; --dry-run, tenant, user and backup still work', async () => {
    const srv = await startServer();
    const data = srv.dataDir;
    const m = await runCli(['migrate', '--data', data]);
    assert.equal(m.code, 75, m.stderr);
    assert.match(m.stderr, new RegExp(`pid ${srv.proc.pid}\\b`));
    const dry = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.equal(dry.code, 0, dry.stderr);
    const t = await runCli(['tenant', 'create', '--slug', 'beside', '--name', 'Beside', '--data', data]);
    assert.equal(t.code, 0, t.stderr);
    const u = await runCli(['user', 'create', '--tenant', 'beside', '--email', 'a@example.com', '--role', 'owner',
      '--password-stdin', '--data', data], { input: 'a long enough passphrase 1\n' });
    assert.equal(u.code, 0, u.stderr);
    const b = await runCli(['backup', path.join(tempDir(), 'b.db'), '--data', data]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(await srv.stop(), 0);
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
  });

  test('an admin command migrates only under the lock: refused (75) while another process holds it', async () => {
    // Another holder (here flock(1) for a pid of its own) stands for a running older
    // server: the fresh data directory has every migration pending.
    const data = tempDir();
    mkdirSync(data, { recursive: true });
    const lock = path.join(data, 'cairn.lock');
    writeFileSync(lock, '424242\n');
    // its own process group: flock's child (sleep) inherits the locked descriptor
    const holder = spawn('flock', ['--exclusive', lock, 'sleep', '30'], { stdio: 'ignore', detached: true });
    try {
      await waitFor(async () => (await runCli(['migrate', '--data', data])).code === 75, 5000, 'flock to hold the lock');
      const t = await runCli(['tenant', 'create', '--slug', 'held', '--name', 'Held', '--data', data]);
      assert.equal(t.code, 75, t.stderr);
      assert.match(t.stderr, /in use by another cairn process \(pid 424242/);
    } finally {
      const gone = new Promise((resolve) => (holder.exitCode !== null ? resolve() : holder.on('exit', resolve)));
      process.kill(-holder.pid, 'SIGKILL');
      await gone;
    }
    // the holder's group is gone (its sleep exits a moment after flock): the lock with it
    await waitFor(async () => (await runCli(['migrate', '--data', data])).code === 0, 5000, 'the lock to go');
    const t = await runCli(['tenant', 'create', '--slug', 'held', '--name', 'Held', '--data', data]);
    assert.equal(t.code, 0, t.stderr);
  });
});
