// Command line: help and version, exit codes, configuration chain, migrations, backups and
// a database written by a newer cairn.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  MIGRATIONS, api, runCli, runProgram, sleep, startServer, stopAllServers, tempDir,
} from './lib/server.mjs';

after(stopAllServers);

/** `key = value  # source` lines of `cairn config check` as {key: {value, source}} */
function parseCheck(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_]+\.[a-z_]+) = (.*?)  # (default|file|env|flag)$/.exec(line);
    if (m) out[m[1]] = { value: m[2], source: m[3] };
  }
  return out;
}

async function sqlite(db, sql) {
  const r = await runProgram('sqlite3', [db, sql]);
  assert.equal(r.code, 0, `sqlite3 failed: ${r.stderr}`);
  return r.stdout.trim();
}

describe('help and version', () => {
  test('cairn version prints the version and exits 0', async () => {
    const r = await runCli(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^cairn \d+\.\d+\.\d+\S*\n$/);
    assert.equal(r.stderr, '');
  });

  test('cairn help lists every command and the exit codes', async () => {
    const r = await runCli(['help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: cairn COMMAND/);
    for (const cmd of ['serve', 'migrate', 'backup', 'config', 'version', 'help'])
      assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd);
    assert.match(r.stdout, /64 usage/);
    assert.match(r.stdout, /78 bad configuration/);
    const dash = await runCli(['--help']);
    assert.equal(dash.code, 0);
    assert.equal(dash.stdout, r.stdout);
  });

  test('cairn serve --help and cairn help migrate describe the command and its keys', async () => {
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: cairn serve /);
    for (const key of ['server.listen', 'CAIRN_THREADS', '--max-body', 'auth.bootstrap_token'])
      assert.ok(r.stdout.includes(key), key);
    const m = await runCli(['help', 'migrate']);
    assert.equal(m.code, 0);
    assert.match(m.stdout, /^Usage: cairn migrate /);
  });

  test('no command, unknown command, unknown option and extra arguments exit 64', async () => {
    const none = await runCli([]);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /Usage: cairn COMMAND/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const opt = await runCli(['serve', '--no-such-flag', 'x']);
    assert.equal(opt.code, 64);
    assert.match(opt.stderr, /unknown option '--no-such-flag'/);
    const extra = await runCli(['serve', 'extra', '--data', tempDir()]);
    assert.equal(extra.code, 64);
    assert.match(extra.stderr, /unexpected argument 'extra'/);
    const backup = await runCli(['backup', '--data', tempDir()]);
    assert.equal(backup.code, 64);
    const cfg = await runCli(['config', 'show']);
    assert.equal(cfg.code, 64);
    const missing = await runCli(['serve', '--threads']);
    assert.equal(missing.code, 64);
    assert.match(missing.stderr, /missing value for '--threads'/);
  });
});

describe('configuration errors exit 78 naming the key', () => {
  test('CAIRN_THREADS=abc', async () => {
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', tempDir()], { env: { CAIRN_THREADS: 'abc' } });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /server\.threads/);
    assert.match(r.stderr, /CAIRN_THREADS/);
    assert.match(r.stderr, /"abc"/);
    assert.doesNotMatch(r.stderr, /listening on/);
  });

  test('--log-level=loud', async () => {
    const r = await runCli(['serve', '--log-level=loud', '--listen', '127.0.0.1:0', '--data', tempDir()]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /log\.level/);
    assert.match(r.stderr, /debug, info, warn, error/);
  });

  test('out-of-range and malformed values', async () => {
    for (const [env, key] of [
      [{ CAIRN_THREADS: '257' }, 'server.threads'],
      [{ CAIRN_MAX_BODY: '10' }, 'server.max_body'],
      [{ CAIRN_MAX_BODY: '1T' }, 'server.max_body'],
      [{ CAIRN_REQUEST_TIMEOUT_MS: '-1' }, 'server.request_timeout_ms'],
      [{ CAIRN_ACCESS_LOG: 'maybe' }, 'log.access'],
      [{ CAIRN_LISTEN: 'nohostport' }, 'server.listen'],
      [{ CAIRN_LISTEN: '127.0.0.1:70000' }, 'server.listen'],
      [{ CAIRN_TLS_CERT: '/x.pem' }, 'server.tls_key'],
    ]) {
      const r = await runCli(['config', 'check'], { env });
      assert.equal(r.code, 78, `${JSON.stringify(env)}: ${r.stderr}`);
      assert.ok(r.stderr.includes(key), `${JSON.stringify(env)} names ${key}: ${r.stderr}`);
    }
  });

  test('a config file with an unknown key, a missing file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.ini');
    writeFileSync(file, '[server]\nthreads = 2\nbogus = 1\n');
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 78);
    assert.ok(r.stderr.includes(file));
    assert.match(r.stderr, /server\.bogus/);
    const missing = await runCli(['config', 'check', '--config', path.join(dir, 'nope.ini')]);
    assert.equal(missing.code, 78);
    assert.match(missing.stderr, /nope\.ini/);
  });
});

describe('cairn config check', () => {
  test('prints every key with its source and redacts the bootstrap token', async () => {
    const r = await runCli(['config', 'check'], { env: { CAIRN_BOOTSTRAP_TOKEN: 'supersecret' } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('supersecret'), 'token not printed');
    assert.ok(!r.stderr.includes('supersecret'), 'token not printed on stderr');
    const cfg = parseCheck(r.stdout);
    for (const key of ['server.listen', 'server.threads', 'server.max_body', 'store.data', 'log.level', 'auth.bootstrap_token'])
      assert.ok(cfg[key], `${key} printed`);
    assert.deepEqual(cfg['auth.bootstrap_token'], { value: '<redacted>', source: 'env' });
    assert.deepEqual(cfg['server.listen'], { value: '127.0.0.1:8080', source: 'default' });
    assert.deepEqual(cfg['server.max_body'], { value: String(1024 * 1024), source: 'default' });
  });

  test('a config file is read, env overrides it and flags override env', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'cairn.ini');
    writeFileSync(file, [
      '; comment',
      '[server]',
      'threads = 3',
      'max_body = 64K',
      'listen = 127.0.0.1:9001',
      '[log]',
      'level = warn',
      '[auth]',
      'bootstrap_token = filesecret',
      '',
    ].join('\n'));
    const r = await runCli(['config', 'check', '--config', file, '--log-level', 'error'], {
      env: { CAIRN_THREADS: '5' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`# config file: ${file}`));
    assert.ok(!r.stdout.includes('filesecret'));
    const cfg = parseCheck(r.stdout);
    assert.deepEqual(cfg['server.threads'], { value: '5', source: 'env' });
    assert.deepEqual(cfg['server.max_body'], { value: '65536', source: 'file' });
    assert.deepEqual(cfg['server.listen'], { value: '127.0.0.1:9001', source: 'file' });
    assert.deepEqual(cfg['log.level'], { value: 'error', source: 'flag' });
    assert.deepEqual(cfg['auth.bootstrap_token'], { value: '<redacted>', source: 'file' });
    assert.deepEqual(cfg['store.data'], { value: './data', source: 'default' });

    // CAIRN_CONFIG names the file too
    const viaEnv = await runCli(['config', 'check'], { env: { CAIRN_CONFIG: file } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual(parseCheck(viaEnv.stdout)['server.threads'], { value: '3', source: 'file' });
  });

  test('cairn serve honours the config file (max_body from the file)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'cairn.ini');
    writeFileSync(file, '[server]\nmax_body = 2K\n[auth]\nbootstrap_token = from-file\n');
    const s = await startServer({ args: ['--config', file], env: { CAIRN_BOOTSTRAP_TOKEN: undefined } });
    const c = api(s.url, 'from-file');
    const small = await c.post('/api/v1/notes', { title: 'ok' });
    assert.equal(small.status, 201, small.text);
    const big = await c.post('/api/v1/notes', { title: 'big', body: 'x'.repeat(4096) });
    assert.equal(big.status, 413);
    assert.match(big.json.detail, /2048/);
    assert.equal(await s.stop(), 0);
  });
});

describe('cairn migrate', () => {
  test('--dry-run reports and changes nothing; migrate applies; a second run applies 0', async () => {
    const data = tempDir();
    const dry = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.equal(dry.code, 0, dry.stderr);
    const n = MIGRATIONS.length;
    assert.deepEqual(dry.stdout.split('\n').filter((l) => l.startsWith('would apply ')),
      MIGRATIONS.map((m) => `would apply ${m}`));
    assert.match(dry.stdout, new RegExp(`0 applied before, ${n} would be applied`));
    const db = path.join(data, 'cairn.db');
    assert.equal(await sqlite(db, "SELECT count(*) FROM sqlite_master WHERE name = 'notes'"), '0', 'dry run created no table');
    assert.equal(await sqlite(db, 'SELECT count(*) FROM schema_migrations'), '0');

    const dry2 = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.match(dry2.stdout, new RegExp(`0 applied before, ${n} would be applied`), 'dry run is repeatable');

    const real = await runCli(['migrate', '--data', data]);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /^applied notes\/1 create_notes$/m);
    assert.match(real.stdout, new RegExp(`0 applied before, ${n} applied now`));
    assert.equal(await sqlite(db, "SELECT group_concat(module || '/' || version || ' ' || name, ',') FROM (SELECT * FROM schema_migrations ORDER BY applied_at, rowid)"),
      MIGRATIONS.join(','));

    const again = await runCli(['migrate', '--data', data]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, new RegExp(`${n} applied before, 0 applied now`));
    assert.doesNotMatch(again.stdout, /^applied /m);
  });

  test('a server with store.auto_migrate=false refuses pending migrations (78), then starts after migrate', async () => {
    const data = tempDir();
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data], { env: { CAIRN_AUTO_MIGRATE: 'false' } });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /cairn migrate/);
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    const s = await startServer({ dataDir: data, env: { CAIRN_AUTO_MIGRATE: 'false' } });
    assert.equal((await api(s.url).get('/readyz')).json.status, 'ready');
    assert.equal(await s.stop(), 0);
  });
});

describe('cairn backup', () => {
  test('a backup taken while the server writes is consistent and restorable', async () => {
    const s = await startServer();
    const c = api(s.url);
    const known = [];
    for (let i = 0; i < 30; i++) {
      const res = await c.post('/api/v1/notes', { title: `known-${i}`, body: `body ${i}` });
      assert.equal(res.status, 201);
      known.push(res.json);
    }
    // keep writing while the backup runs
    let writing = true;
    let written = 0;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      while (writing) {
        const res = await c.post('/api/v1/notes', { title: `bg-${w}`, body: 'x'.repeat(500) });
        assert.equal(res.status, 201);
        written++;
      }
    });
    while (written < 50) await sleep(5);
    const file = path.join(tempDir(), 'backup.db');
    const r = await runCli(['backup', file, '--data', s.dataDir], { timeoutMs: 20_000 });
    const writtenAtBackup = written;
    await sleep(50);
    writing = false;
    await Promise.all(writers);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `backup written to ${file}`);
    assert.ok(written > writtenAtBackup, 'the server kept writing after the backup');
    assert.equal(await s.stop(), 0);

    assert.equal(await sqlite(file, 'PRAGMA integrity_check'), 'ok');
    assert.equal(await sqlite(file, "SELECT count(*) FROM notes WHERE title LIKE 'known-%'"), '30');
    const bg = Number(await sqlite(file, "SELECT count(*) FROM notes WHERE title LIKE 'bg-%'"));
    assert.ok(bg >= 50 && bg <= written, `backup holds ${bg} of ${written} background notes`);
    assert.equal(await sqlite(file, 'SELECT count(*) FROM schema_migrations'), String(MIGRATIONS.length));

    // a fresh server on a copy serves the notes, with the secrets key restored beside it
    // (the backup holds the signing keys sealed with it: without it serve exits 78)
    const restored = tempDir();
    copyFileSync(file, path.join(restored, 'cairn.db'));
    await assert.rejects(startServer({ dataDir: restored }), /exited with 78[\s\S]*auth\.secrets_key_file/);
    copyFileSync(path.join(s.dataDir, 'secrets.key'), path.join(restored, 'secrets.key'));
    const s2 = await startServer({ dataDir: restored });
    const c2 = api(s2.url);
    for (const n of known) {
      const got = await c2.get(`/api/v1/notes/${n.id}`);
      assert.equal(got.status, 200, n.id);
      assert.deepEqual(got.json, n);
    }
    assert.equal(await s2.stop(), 0);
  });

  test('a backup into a missing directory fails with 74 and leaves nothing behind', async () => {
    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    const target = path.join(tempDir(), 'no', 'such', 'dir', 'b.db');
    const r = await runCli(['backup', target, '--data', data]);
    assert.equal(r.code, 74);
    assert.match(r.stderr, /backup/);
    assert.equal(existsSync(target), false);
  });
});

describe('a database newer than the binary', () => {
  test('serve and migrate exit 65 naming the unknown migration', async () => {
    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    const db = path.join(data, 'cairn.db');
    await sqlite(db, "INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ('notes', 999, 'from_the_future', 0)");

    const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data], { timeoutMs: 10_000 });
    assert.equal(serve.code, 65, serve.stderr);
    assert.match(serve.stderr, /notes\/999/);
    assert.match(serve.stderr, /newer cairn/);
    assert.doesNotMatch(serve.stderr, /listening on/);

    const migrate = await runCli(['migrate', '--data', data]);
    assert.equal(migrate.code, 65);
    assert.match(migrate.stderr, /notes\/999/);
    const dry = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.equal(dry.code, 65);

    // nothing was touched
    assert.equal(await sqlite(db, 'SELECT count(*) FROM schema_migrations'), String(MIGRATIONS.length + 1));
  });

  test('an unknown module counts as newer too', async () => {
    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    await sqlite(path.join(data, 'cairn.db'), "INSERT INTO schema_migrations VALUES ('billing', 1, 'create_invoices', 0)");
    const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data]);
    assert.equal(serve.code, 65);
    assert.match(serve.stderr, /billing\/1/);
  });
});
