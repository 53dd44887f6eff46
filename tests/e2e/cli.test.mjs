// Command line: help and version, exit codes, configuration chain, migrations, backups and
// a database written by a newer cairn.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CAIRN_BIN, MIGRATIONS, REPO_ROOT, api, databaseEnv, dbExec, dbQuery, dbSession, dbValue, onPostgres,
  request, runCli, runCliWithInput, sleep, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const BACKUP_IS_SQLITE = 'cairn backup copies the SQLite database; on PostgreSQL the documented path is pg_dump';

/** `key = value  # source` lines of `cairn config check` as {key: {value, source}} */
function parseCheck(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^([a-z_]+\.[a-z_]+) = (.*?)  # (default|file|env|flag)$/.exec(line);
    if (m) out[m[1]] = { value: m[2], source: m[3] };
  }
  return out;
}

describe('help and version', () => {
  test('cairn version and cairn --version print the version and exit 0', async () => {
    for (const args of [['version'], ['--version']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^cairn \d+\.\d+\.\d+\S*\n$/);
      assert.equal(r.stderr, '');
    }
    // version needs no configuration: a broken one does not stop it
    const broken = await runCli(['version'], { env: { CAIRN_THREADS: 'abc' } });
    assert.equal(broken.code, 0, broken.stderr);
  });

  test('cairn help lists every command and the one table of exit codes', async () => {
    const r = await runCli(['help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: cairn COMMAND/);
    for (const cmd of ['serve', 'migrate', 'backup FILE', 'tenant create', 'tenant list', 'user create',
      'user list', 'user set-password', 'config check', 'config keys', 'version', 'help'])
      assert.match(r.stdout, new RegExp(`^  cairn ${cmd}\\b`, 'm'), cmd);
    const codes = [...r.stdout.matchAll(/^  (\d+) +(\S.*)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(codes, [0, 1, 64, 65, 66, 73, 74, 75, 76, 78]);
    assert.match(r.stdout, /^  65 +bad input data/m);
    assert.match(r.stdout, /^  76 +the database was written by a newer cairn/m);
    assert.match(r.stdout, /^  78 +configuration error/m);
    const dash = await runCli(['--help']);
    assert.equal(dash.code, 0);
    assert.equal(dash.stdout, r.stdout);
  });

  test('a subcommand\'s --help shows its own usage and options, not the configuration table', async () => {
    for (const [args, own, usage] of [
      [['tenant', 'list', '--help'], ['--json'], 'cairn tenant list [--json]'],
      [['user', 'list', '--help'], ['--tenant SLUG', '--json'], 'cairn user list --tenant SLUG'],
      [['user', 'set-password', '--help'], ['--tenant SLUG', '--email E', '--password-stdin'],
        'cairn user set-password --tenant SLUG --email E [--password-stdin]'],
      [['help', 'backup'], ['--force'], 'cairn backup FILE [--force]'],
      [['help', 'tenant', 'create'], ['--slug SLUG', '--name NAME'], 'cairn tenant create'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.ok(r.stdout.startsWith(`Usage: ${usage}`), `${args.join(' ')}: ${r.stdout}`);
      for (const o of own) assert.ok(r.stdout.includes(`  ${o}`), `${args.join(' ')} shows ${o}`);
      assert.ok(r.stdout.includes('--data DIR'), 'the common options are named');
      for (const other of ['server.max_body', 'auth.bootstrap_token', 'CAIRN_THREADS', '--slug'].filter((x) => !own.some((o) => o.startsWith(x))))
        assert.ok(!r.stdout.includes(other), `${args.join(' ')} does not show ${other}`);
      assert.ok(r.stdout.split('\n').length < 25, `${args.join(' ')} is short`);
    }
  });

  test('cairn serve --help lists its flags; cairn config keys prints every key', async () => {
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: cairn serve /);
    for (const flag of ['--listen', '--threads', '--max-body', '--tls-cert', '--data', 'server.listen', 'CAIRN_THREADS'])
      assert.ok(r.stdout.includes(flag), flag);
    assert.ok(!r.stdout.includes('auth.bootstrap_token'), 'keys without a flag are in cairn config keys');
    assert.match(r.stdout, /cairn config keys/);
    const keys = await runCli(['config', 'keys']);
    assert.equal(keys.code, 0);
    for (const key of ['server.listen', 'CAIRN_THREADS', '--max-body', 'auth.bootstrap_token', 'jobs.poll_ms'])
      assert.ok(keys.stdout.includes(key), key);
    const m = await runCli(['help', 'migrate']);
    assert.equal(m.code, 0);
    assert.match(m.stdout, /^Usage: cairn migrate /);
    const group = await runCli(['help', 'user']);
    assert.equal(group.code, 0);
    for (const sub of ['create', 'list', 'set-password']) assert.match(group.stdout, new RegExp(`cairn user ${sub}`));
  });

  test('no command, unknown command, subcommand or option and extra arguments exit 64', async () => {
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
    assert.match(backup.stderr, /needs FILE/);
    const cfg = await runCli(['config', 'show']);
    assert.equal(cfg.code, 64);
    assert.match(cfg.stderr, /unknown subcommand 'show'/);
    const group = await runCli(['tenant']);
    assert.equal(group.code, 64);
    assert.match(group.stderr, /needs a subcommand/);
    const missing = await runCli(['serve', '--threads']);
    assert.equal(missing.code, 64);
    assert.match(missing.stderr, /missing value for '--threads'/);
    const required = await runCli(['user', 'list', '--data', tempDir()]);
    assert.equal(required.code, 64);
    assert.match(required.stderr, /--tenant SLUG is required/);
    const foreign = await runCli(['tenant', 'list', '--slug', 'x']);
    assert.equal(foreign.code, 64, 'an option of another subcommand is unknown here');
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

describe('settings declared by modules', () => {
  /** `config check` as [{group, keys: [...]}] in print order */
  function groups(stdout) {
    const out = [];
    for (const line of stdout.split('\n')) {
      const head = /^# (kernel|module [a-z_]+)$/.exec(line);
      if (head) out.push({ group: head[1], keys: [] });
      const key = /^([a-z_]+\.[a-z_]+) = /.exec(line);
      if (key) out[out.length - 1].keys.push(key[1]);
    }
    return out;
  }

  test('config check lists the kernel\'s keys, then each module\'s under its name', async () => {
    const r = await runCli(['config', 'check']);
    assert.equal(r.code, 0, r.stderr);
    const g = groups(r.stdout);
    assert.deepEqual(g.map((x) => x.group), ['kernel', 'module auth', 'module insights']);
    const [kernel, auth, insights] = g;
    for (const key of ['server.listen', 'auth.bootstrap_token', 'mail.smtp_url', 'mail.from', 'jobs.poll_ms'])
      assert.ok(kernel.keys.includes(key), `${key} is the kernel's`);
    assert.deepEqual(auth.keys, ['auth.secrets_key_file', 'auth.allow_unusable_secrets', 'auth.lockout_attempts',
      'auth.lockout_window_s', 'auth.lockout_max_s', 'auth.lockout_account_attempts', 'auth.reset_url',
      'auth.reset_ttl_s', 'auth.register_url', 'auth.register_ttl_s', 'auth.register_mail_interval_s',
      'auth.access_ttl_s']);
    assert.deepEqual(insights.keys, ['insights.geoip_db', 'insights.pattern_delay_s']);
    const all = g.flatMap((x) => x.keys);
    assert.equal(new Set(all).size, all.length, 'every key once');
    // config keys groups them the same way
    const keys = await runCli(['config', 'keys']);
    assert.equal(keys.code, 0);
    assert.ok(keys.stdout.indexOf('module auth:') < keys.stdout.indexOf('auth.lockout_attempts'));
    assert.ok(keys.stdout.indexOf('module insights:') < keys.stdout.indexOf('insights.geoip_db'));
  });

  test('a module key keeps its variable, INI section and checks, and takes effect', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'cairn.ini');
    writeFileSync(file, '[auth]\nlockout_attempts = 7\nreset_ttl_s = 60\n[insights]\npattern_delay_s = 5\n');
    const r = await runCli(['config', 'check', '--config', file], {
      env: { CAIRN_LOCKOUT_ATTEMPTS: '3', CAIRN_REGISTER_URL: 'https://app.example.com/register' },
    });
    assert.equal(r.code, 0, r.stderr);
    const cfg = parseCheck(r.stdout);
    assert.deepEqual(cfg['auth.lockout_attempts'], { value: '3', source: 'env' }, 'env over file');
    assert.deepEqual(cfg['auth.reset_ttl_s'], { value: '60', source: 'file' });
    assert.deepEqual(cfg['auth.register_url'], { value: 'https://app.example.com/register', source: 'env' });
    assert.deepEqual(cfg['insights.pattern_delay_s'], { value: '5', source: 'file' });

    // bounds, with the same messages as the kernel's keys, naming key and variable
    const bad = await runCli(['config', 'check'], { env: { CAIRN_INSIGHTS_PATTERN_DELAY_S: '86401' } });
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /insights\.pattern_delay_s: must be an integer from 0 to 86400 \(got "86401"\) \(from CAIRN_INSIGHTS_PATTERN_DELAY_S\)/);
    // an unknown key in a module's section is reported as before
    writeFileSync(file, '[insights]\npattern_delay = 5\n');
    const unknown = await runCli(['config', 'check', '--config', file]);
    assert.equal(unknown.code, 78);
    assert.match(unknown.stderr, /unknown configuration key "insights\.pattern_delay"/);

    // the module's start reads what the loader filled: a GeoIP file that is not a database
    // stops the server, which it would not if the variable were ignored
    const notDb = path.join(dir, 'not.mmdb');
    writeFileSync(notDb, 'not a MaxMind database\n');
    const data = path.join(dir, 'data');
    const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data], { env: { CAIRN_INSIGHTS_GEOIP_DB: notDb } });
    assert.notEqual(serve.code, 0, 'serve refused the file');
    assert.match(serve.stderr, /not\.mmdb/);
  });

  test('serve --allow-unusable-secrets sets the auth module\'s key', async () => {
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--allow-unusable-secrets/);
    const check = await runCli(['config', 'check'], { env: { CAIRN_ALLOW_UNUSABLE_SECRETS: 'yes' } });
    assert.deepEqual(parseCheck(check.stdout)['auth.allow_unusable_secrets'], { value: 'true', source: 'env' });
  });

  test('docs/configuration.md holds the tables the binary prints (scripts/config-docs)', async () => {
    const r = await runCli(['config', 'keys', '--markdown']);
    assert.equal(r.code, 0, r.stderr);
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const m = /^<!-- config keys: begin[^\n]*-->\n([\s\S]*?)^<!-- config keys: end -->$/m.exec(doc);
    assert.ok(m, 'docs/configuration.md has the config keys markers');
    // a difference is shown line by line; run scripts/config-docs (make docs) to rewrite it
    assert.deepEqual(m[1].trim().split('\n'), r.stdout.trim().split('\n'),
      'docs/configuration.md differs from `cairn config keys --markdown`: run make docs');
    for (const heading of ['### kernel', '### module auth', '### module insights'])
      assert.ok(r.stdout.includes(`${heading}\n`), heading);
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
    assert.equal(await dbValue(data, {
      sqlite: "SELECT count(*) FROM sqlite_master WHERE name = 'notes'",
      postgres: "SELECT count(*) FROM pg_tables WHERE tablename = 'notes'",
    }), 0, 'dry run created no table');
    assert.equal(await dbValue(data, 'SELECT count(*) FROM schema_migrations'), 0);

    const dry2 = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.match(dry2.stdout, new RegExp(`0 applied before, ${n} would be applied`), 'dry run is repeatable');

    const real = await runCli(['migrate', '--data', data]);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /^applied notes\/1 create_notes$/m);
    assert.match(real.stdout, new RegExp(`0 applied before, ${n} applied now`));
    // in the order applied: several share a millisecond, so then in the order inserted
    const applied = await dbQuery(data, {
      sqlite: 'SELECT module, version, name FROM schema_migrations ORDER BY applied_at, rowid',
      postgres: 'SELECT module, version, name FROM schema_migrations ORDER BY applied_at, ctid',
    });
    assert.deepEqual(applied.map((m) => `${m.module}/${m.version} ${m.name}`), MIGRATIONS);

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

describe('cairn backup', { skip: onPostgres && BACKUP_IS_SQLITE }, () => {
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

    const backup = { file };
    assert.equal(await dbValue(backup, 'PRAGMA integrity_check'), 'ok');
    assert.equal(await dbValue(backup, "SELECT count(*) FROM notes WHERE title LIKE 'known-%'"), 30);
    const bg = await dbValue(backup, "SELECT count(*) FROM notes WHERE title LIKE 'bg-%'");
    assert.ok(bg >= 50 && bg <= written, `backup holds ${bg} of ${written} background notes`);
    assert.equal(await dbValue(backup, 'SELECT count(*) FROM schema_migrations'), MIGRATIONS.length);

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
  test('serve and migrate exit 76 naming the unknown migration', async () => {
    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    await dbExec(data, "INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ('notes', 999, 'from_the_future', 0)");

    const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data], { timeoutMs: 10_000 });
    assert.equal(serve.code, 76, serve.stderr);
    assert.match(serve.stderr, /notes\/999/);
    assert.match(serve.stderr, /newer cairn/);
    assert.doesNotMatch(serve.stderr, /listening on/);

    const migrate = await runCli(['migrate', '--data', data]);
    assert.equal(migrate.code, 76);
    assert.match(migrate.stderr, /notes\/999/);
    const dry = await runCli(['migrate', '--dry-run', '--data', data]);
    assert.equal(dry.code, 76);
    // and every command that needs the schema: 76 is this and nothing else
    for (const args of [['tenant', 'list'], ['audit', 'verify'], ['jobs', 'list']]) {
      const r = await runCli([...args, '--data', data]);
      assert.equal(r.code, 76, `${args.join(' ')}: ${r.stderr}`);
    }

    // nothing was touched
    assert.equal(await dbValue(data, 'SELECT count(*) FROM schema_migrations'), MIGRATIONS.length + 1);
  });

  test('an unknown module counts as newer too', async () => {
    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    await dbExec(data, "INSERT INTO schema_migrations VALUES ('billing', 1, 'create_invoices', 0)");
    const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data]);
    assert.equal(serve.code, 76);
    assert.match(serve.stderr, /billing\/1/);
  });
});

describe('addresses, URLs and files are checked before anything is created', () => {
  test('a bad --listen with a fresh --data: serve and config check exit 78 naming it, no data dir', async () => {
    const data = path.join(tempDir(), 'fresh');
    const serve = await runCli(['serve', '--listen', '999.1.1.1:80', '--data', data]);
    assert.equal(serve.code, 78, serve.stderr);
    assert.match(serve.stderr, /server\.listen/);
    assert.match(serve.stderr, /999\.1\.1\.1:80/);
    assert.equal(existsSync(data), false, 'serve created nothing');
    const check = await runCli(['config', 'check', '--listen', '999.1.1.1:80', '--data', data]);
    assert.equal(check.code, 78);
    assert.equal(check.stderr, serve.stderr, 'the same message from both');
    assert.equal(existsSync(data), false);
  });

  test('other bad addresses, URLs and unreadable files are refused by config check and serve', async () => {
    const dir = tempDir();
    for (const [env, key, shown] of [
      [{ CAIRN_LISTEN: '[::1:80' }, 'server.listen', '[::1:80'],
      [{ CAIRN_LISTEN: 'bad_host!:80' }, 'server.listen', 'bad_host!:80'],
      [{ CAIRN_LISTEN: '10.0.0.256:80' }, 'server.listen', '10.0.0.256:80'],
      [{ CAIRN_TRUSTED_PROXIES: '10.0.0.0/33' }, 'server.trusted_proxies', '10.0.0.0/33'],
      [{ CAIRN_CORS_ORIGINS: 'https://app.example.com/' }, 'server.cors_origins', 'https://app.example.com/'],
      [{ CAIRN_CORS_ORIGINS: '*' }, 'server.cors_origins', '*'],
      [{ CAIRN_RESET_URL: 'app.example.com/reset' }, 'auth.reset_url', 'app.example.com/reset'],
      [{ CAIRN_REGISTER_URL: 'app.example.com/register' }, 'auth.register_url', 'app.example.com/register'],
      [{ CAIRN_MAIL_SMTP_URL: 'user:hunter2@mail.example.com' }, 'mail.smtp_url', null],
      [{ CAIRN_TLS_CERT: path.join(dir, 'no.pem'), CAIRN_TLS_KEY: path.join(dir, 'no.key') }, 'server.tls_cert', 'no.pem'],
      [{ CAIRN_INSIGHTS_GEOIP_DB: path.join(dir, 'no.mmdb') }, 'insights.geoip_db', 'no.mmdb'],
    ]) {
      const what = JSON.stringify(env);
      const check = await runCli(['config', 'check'], { env });
      assert.equal(check.code, 78, `${what}: ${check.stderr}`);
      assert.ok(check.stderr.includes(key), `${what} names ${key}: ${check.stderr}`);
      if (shown) assert.ok(check.stderr.includes(shown), `${what} shows the value: ${check.stderr}`);
      else assert.ok(!check.stderr.includes('hunter2'), 'a secret is not repeated');
      const data = path.join(dir, 'data');
      const serve = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data], { env });
      assert.equal(serve.code, 78, `${what}: ${serve.stderr}`);
      assert.equal(existsSync(data), false, `${what}: nothing created`);
    }
  });

  test('good hosts pass: a name, IPv6 in brackets, a proxy list, origins with ports', async () => {
    const r = await runCli(['config', 'check', '--listen', 'localhost:0', '--listen', '[::1]:8443'], {
      env: {
        CAIRN_TRUSTED_PROXIES: '10.0.0.0/8, ::1', CAIRN_CORS_ORIGINS: 'https://a.example.com,http://localhost:5173',
        CAIRN_MAIL_SMTP_URL: 'smtps://u:p@mail.example.com:465', CAIRN_RESET_URL: 'https://app.example.com/reset',
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseCheck(r.stdout)['server.listen'], { value: 'localhost:0,[::1]:8443', source: 'flag' });
  });

  test('a certificate file that is not PEM: serve exits 78 before creating the database', async () => {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem');
    writeFileSync(cert, 'not a certificate\n');
    const data = path.join(dir, 'data');
    const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', data, '--tls-cert', cert, '--tls-key', cert]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /server\.tls_cert/);
    assert.equal(existsSync(path.join(data, 'cairn.db')), false, 'no database');
    assert.equal(existsSync(path.join(data, 'secrets.key')), false, 'no key file');
  });

  test('config check prints the effective secrets key file', async () => {
    const data = tempDir();
    const r = await runCli(['config', 'check', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseCheck(r.stdout)['auth.secrets_key_file'], { value: `${data}/secrets.key`, source: 'default' });
    const set = await runCli(['config', 'check', '--data', data], { env: { CAIRN_SECRETS_KEY_FILE: '/etc/cairn/totp.key' } });
    assert.deepEqual(parseCheck(set.stdout)['auth.secrets_key_file'], { value: '/etc/cairn/totp.key', source: 'env' });
    assert.equal(existsSync(path.join(data, 'secrets.key')), false, 'config check creates nothing');
  });
});

describe('choosing the engine: store.url, cluster.nats_url, cluster.nodes', () => {
  const PG = 'postgres://cairn:hunter2pw@127.0.0.1:5432/cairn';
  const PG_SHOWN = 'postgres://cairn:***@127.0.0.1:5432/cairn';
  /** no output of cairn ever holds one of the passwords these tests configure */
  function assertNoSecret(r, what) {
    for (const secret of ['hunter2pw', 'querypw', 'natspw', 'inipw'])
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${what}: ${secret} leaked:\n${r.stdout}${r.stderr}`);
  }

  test('by default: SQLite on one node, no bus, every key from its default', async () => {
    const r = await runCli(['config', 'check']);
    assert.equal(r.code, 0, r.stderr);
    const cfg = parseCheck(r.stdout);
    assert.deepEqual(cfg['store.url'], { value: '', source: 'default' });
    assert.deepEqual(cfg['cluster.nats_url'], { value: '', source: 'default' });
    assert.deepEqual(cfg['cluster.nodes'], { value: '1', source: 'default' });
    const help = await runCli(['serve', '--help']);
    assert.match(help.stdout, /--database +the database engine/);
  });

  test('the keys come from the file, the environment and --database, passwords redacted', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'cairn.ini');
    writeFileSync(file, [
      '[store]', 'url = postgres://cairn:inipw@db.example.com/cairn',
      '[cluster]', 'nodes = 3', 'nats_url = nats://cairn:natspw@127.0.0.1:4222,nats://127.0.0.1:4223', '',
    ].join('\n'));
    const fromFile = await runCli(['config', 'check', '--config', file]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    let cfg = parseCheck(fromFile.stdout);
    assert.deepEqual(cfg['store.url'], { value: 'postgres://cairn:***@db.example.com/cairn', source: 'file' });
    assert.deepEqual(cfg['cluster.nodes'], { value: '3', source: 'file' });
    assert.deepEqual(cfg['cluster.nats_url'], { value: 'nats://cairn:***@127.0.0.1:4222,nats://127.0.0.1:4223', source: 'file' });
    assertNoSecret(fromFile, 'from the file');

    const env = { CAIRN_DATABASE_URL: `${PG}?sslmode=disable&password=querypw`, CAIRN_CLUSTER_NODES: '2' };
    const fromEnv = await runCli(['config', 'check', '--config', file], { env });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    cfg = parseCheck(fromEnv.stdout);
    assert.deepEqual(cfg['store.url'], { value: `${PG_SHOWN}?sslmode=disable&password=***`, source: 'env' });
    assert.deepEqual(cfg['cluster.nodes'], { value: '2', source: 'env' });
    assertNoSecret(fromEnv, 'from the environment');

    const fromFlag = await runCli(['config', 'check', '--config', file, '--database', 'postgresql:///cairn?host=/run/postgresql'], { env });
    assert.equal(fromFlag.code, 0, fromFlag.stderr);
    cfg = parseCheck(fromFlag.stdout);
    assert.deepEqual(cfg['store.url'], { value: 'postgresql:///cairn?host=/run/postgresql', source: 'flag' });
    const nats = await runCli(['config', 'check'], { env: { CAIRN_NATS_URL: 'nats://127.0.0.1:4222' } });
    assert.deepEqual(parseCheck(nats.stdout)['cluster.nats_url'], { value: 'nats://127.0.0.1:4222', source: 'env' });
  });

  test('a PostgreSQL URL with no server there: 75 naming the server, never SQLite instead', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    mkdirSync(data, { mode: 0o700 }); // serve keeps its key file there on any engine
    const runs = [
      ['serve', '--listen', '127.0.0.1:0', '--data', data, '--database', PG],
      ['migrate', '--data', data, '--database', PG],
      ['migrate', '--dry-run', '--data', data, '--database', PG],
      ['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--data', data, '--database', PG],
    ];
    for (const args of runs) {
      const r = await runCli(args);
      assert.equal(r.code, 75, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /cannot connect to PostgreSQL: connection to server at "127\.0\.0\.1", port 5432 failed/, args[0]);
      assert.doesNotMatch(r.stderr, /listening on/);
      assertNoSecret(r, args.join(' '));
      assert.equal(existsSync(path.join(data, 'cairn.db')), false, `${args[0]}: SQLite not used instead`);
    }
    // the same from the environment
    const env = await runCli(['migrate', '--data', data], { env: { CAIRN_DATABASE_URL: `${PG}?password=querypw` } });
    assert.equal(env.code, 75, env.stderr);
    assertNoSecret(env, 'migrate from env');
    // cairn backup copies SQLite files: it names pg_dump instead, without connecting
    const backup = await runCli(['backup', path.join(dir, 'copy.db'), '--data', data, '--database', PG]);
    assert.equal(backup.code, 78, backup.stderr);
    assert.match(backup.stderr, /pg_dump --format=custom/);
    assertNoSecret(backup, 'backup');
    assert.equal(existsSync(path.join(dir, 'copy.db')), false);
  });

  test('a NATS URL nobody answers: serve starts but is not ready, naming cluster.nats_url', async () => {
    const srv = await startServer({ env: { CAIRN_NATS_URL: 'nats://cairn:natspw@127.0.0.1:1' } });
    assert.equal((await request(`${srv.url}/healthz`)).status, 200);
    const ready = await request(`${srv.url}/readyz`);
    assert.equal(ready.status, 503, ready.text);
    assert.match(ready.json.detail, /not connected to NATS \(cluster\.nats_url\)/);
    assert.equal(ready.headers['retry-after'], '1');
    assert.equal(await srv.stop(), 0);
    assertNoSecret({ stdout: srv.stdout(), stderr: srv.stderrLines().join('\n') }, 'serve with NATS');
  });

  test('more than one node: refused without PostgreSQL (store.url) and without NATS (cluster.nats_url)', async () => {
    const data = path.join(tempDir(), 'data');
    for (const [env, key] of [
      [{ CAIRN_CLUSTER_NODES: '3', CAIRN_DATABASE_URL: undefined }, /cluster\.nodes: 3 nodes cannot share SQLite.*set store\.url/],
      [{ CAIRN_CLUSTER_NODES: '2', CAIRN_DATABASE_URL: 'sqlite:' }, /cannot share SQLite.*store\.url/],
      [{ CAIRN_CLUSTER_NODES: '3', CAIRN_DATABASE_URL: PG }, /3 nodes on PostgreSQL need cluster\.nats_url/],
    ]) {
      for (const args of [['config', 'check'], ['serve', '--listen', '127.0.0.1:0', '--data', data], ['migrate', '--data', data]]) {
        const r = await runCli(args, { env });
        assert.equal(r.code, 78, `${args[0]} ${JSON.stringify(env)}: ${r.stderr}`);
        assert.match(r.stderr, /configuration error/);
        assert.match(r.stderr, key);
        assertNoSecret(r, args[0]);
      }
    }
    assert.equal(existsSync(data), false, 'nothing created');
    const zero = await runCli(['config', 'check'], { env: { CAIRN_CLUSTER_NODES: '0' } });
    assert.equal(zero.code, 78);
    assert.match(zero.stderr, /cluster\.nodes: must be an integer from 1 to 1000/);
    // with both, the configuration is whole (the drivers themselves are refused as above)
    const whole = await runCli(['config', 'check'], {
      env: { CAIRN_CLUSTER_NODES: '3', CAIRN_DATABASE_URL: PG, CAIRN_NATS_URL: 'nats://127.0.0.1:4222' },
    });
    assert.equal(whole.code, 0, whole.stderr);
  });

  test('URLs of the wrong shape exit 78 naming the key, never showing a password', async () => {
    for (const [env, message] of [
      [{ CAIRN_DATABASE_URL: 'sqlite:/srv/cairn.db' }, /store\.url: sqlite: takes no path/],
      [{ CAIRN_DATABASE_URL: 'sqlite://cairn.db' }, /store\.url: sqlite: takes no path/],
      [{ CAIRN_DATABASE_URL: 'mysql://root:hunter2pw@db/cairn' }, /store\.url: must be empty or sqlite: .*postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/root:\*\*\*@db\/cairn"\)/],
      [{ CAIRN_DATABASE_URL: 'postgres:///cairn' }, /store\.url: name the PostgreSQL server/],
      [{ CAIRN_DATABASE_URL: 'postgres://u:hunter2pw@db/cairn?bogus=1' }, /store\.url: not a PostgreSQL URL libpq accepts/],
      [{ CAIRN_NATS_URL: '127.0.0.1:4222' }, /cluster\.nats_url: each server must be nats:\/\/HOST:PORT/],
      [{ CAIRN_NATS_URL: 'nats://u:natspw@127.0.0.1' }, /cluster\.nats_url: each server must be nats:\/\/HOST:PORT.*"nats:\/\/u:\*\*\*@127\.0\.0\.1"/],
    ]) {
      const r = await runCli(['config', 'check'], { env });
      assert.equal(r.code, 78, `${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assertNoSecret(r, JSON.stringify(env));
    }
  });

  test('--database sqlite: is the default database: the same DATA/cairn.db', async () => {
    const data = path.join(tempDir(), 'data');
    const created = await runCli(['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--data', data, '--database', 'sqlite:']);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(existsSync(path.join(data, 'cairn.db')));
    // (CAIRN_DATABASE_URL unset: cairn's default, whatever engine the other tests run on)
    const listed = await runCli(['tenant', 'list', '--data', data], { env: { CAIRN_DATABASE_URL: undefined } });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^acme\b/m, 'the default reads what sqlite: wrote');
    const s = await startServer({ dataDir: data, args: ['--database', 'sqlite:'], env: { CAIRN_DATABASE_URL: '' } });
    const c = api(s.url);
    const note = await c.post('/api/v1/notes', { title: 'on sqlite:' });
    assert.equal(note.status, 201, note.text);
    assert.equal(await s.stop(), 0);
    assert.equal(await dbValue({ file: path.join(data, 'cairn.db') }, "SELECT count(*) FROM notes WHERE title = 'on sqlite:'"), 1);
  });
});

describe('cairn backup keeps what it writes private and what exists intact', { skip: onPostgres && BACKUP_IS_SQLITE }, () => {
  test('mode 600, no overwrite without --force (73), --force replaces, nothing left beside it', async () => {
    const data = tempDir();
    assert.equal((await runCli(['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--data', data])).code, 0);
    const dir = tempDir();
    const file = path.join(dir, 'b.db');
    const r = await runCli(['backup', file, '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup is readable by its owner only');
    assert.deepEqual(readdirSync(dir), ['b.db']);

    writeFileSync(file, 'precious');
    const again = await runCli(['backup', file, '--data', data]);
    assert.equal(again.code, 73, again.stderr);
    assert.match(again.stderr, /exists/);
    assert.match(again.stderr, /--force/);
    assert.equal(readFileSync(file, 'utf8'), 'precious', 'the existing file is untouched');
    assert.deepEqual(readdirSync(dir), ['b.db']);

    const forced = await runCli(['backup', file, '--force', '--data', data]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(await dbValue({ file }, "SELECT name FROM tenants WHERE slug = 'acme'"), 'Acme');
    assert.deepEqual(readdirSync(dir), ['b.db']);
  });

  test('a failed backup leaves nothing: no database (66), a target it cannot replace (74)', async () => {
    const dir = tempDir();
    const missing = await runCli(['backup', path.join(dir, 'b.db'), '--data', path.join(dir, 'nodata')]);
    assert.equal(missing.code, 66, missing.stderr);
    assert.match(missing.stderr, /no database/);
    assert.equal(existsSync(path.join(dir, 'nodata')), false, 'no data dir created');

    const data = tempDir();
    assert.equal((await runCli(['migrate', '--data', data])).code, 0);
    const target = path.join(dir, 'taken');
    mkdirSync(path.join(target, 'inside'), { recursive: true });
    const r = await runCli(['backup', target, '--force', '--data', data]);
    assert.equal(r.code, 74, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['taken'], 'no temporary file left beside it');
    assert.deepEqual(readdirSync(target), ['inside']);
  });
});

describe('operator recovery without the API', () => {
  const pw = (p) => `${p}\n`;

  test('tenant list and user list, as text and JSON; nothing is created for a wrong --data', async () => {
    const wrong = path.join(tempDir(), 'typo');
    const none = await runCli(['tenant', 'list', '--data', wrong]);
    assert.equal(none.code, 66, none.stderr);
    assert.equal(existsSync(wrong), false);

    const data = tempDir();
    const cli = (args, input) => (input === undefined ? runCli([...args, '--data', data]) : runCliWithInput([...args, '--data', data], input));
    const acme = (await cli(['tenant', 'create', '--slug', 'acme', '--name', 'Acme Inc'])).stdout.trim();
    assert.equal((await cli(['tenant', 'create', '--slug', 'initech', '--name', 'Initech'])).code, 0);
    assert.equal((await cli(['user', 'create', '--tenant', 'acme', '--email', 'ann@acme.test', '--role', 'owner', '--password-stdin'], pw('vivid-Otter-42-lantern'))).code, 0);
    const bob = await cli(['user', 'create', '--tenant', 'acme', '--email', 'bob@acme.test', '--role', 'viewer', '--password-stdin'], pw('sturdy-Marmot-71-lagoon'));
    assert.equal(bob.code, 0, bob.stderr);
    await dbExec(data, `INSERT INTO mfa (user_id, secret, confirmed_at) VALUES ('${bob.stdout.trim()}', 'x', 1)`);
    const until = Date.now() + 3_600_000;
    await dbExec(data, `INSERT INTO login_failures VALUES ('acme/bob@acme.test', '203.0.113.9', 0, 0, 1, ${until}, 0)`);

    const tenants = await cli(['tenant', 'list']);
    assert.equal(tenants.code, 0, tenants.stderr);
    const lines = tenants.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1], new RegExp(`^acme +${acme} +\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z +Acme Inc$`));
    assert.match(lines[2], /^initech /);
    const tj = JSON.parse((await cli(['tenant', 'list', '--json'])).stdout);
    assert.deepEqual(tj.map((t) => [t.slug, t.name]), [['acme', 'Acme Inc'], ['initech', 'Initech']]);
    assert.equal(tj[0].id, acme);
    assert.ok(Number.isSafeInteger(tj[0].created_at), 'JSON times are Unix ms, as in the API');

    const users = await cli(['user', 'list', '--tenant', 'acme']);
    assert.equal(users.code, 0, users.stderr);
    assert.match(users.stdout, /^ann@acme\.test +owner +off +no +/m);
    assert.match(users.stdout, /^bob@acme\.test +viewer +on +\d{4}-\d\d-\d\dT/m);
    const uj = JSON.parse((await cli(['user', 'list', '--tenant', 'acme', '--json'])).stdout);
    assert.deepEqual(uj.map((u) => [u.email, u.role, u.mfa, u.locked_until === null]),
      [['ann@acme.test', 'owner', false, true], ['bob@acme.test', 'viewer', true, false]]);
    assert.equal(uj[1].locked_until, until);
    const empty = await cli(['user', 'list', '--tenant', 'initech', '--json']);
    assert.deepEqual(JSON.parse(empty.stdout), []);
    const nope = await cli(['user', 'list', '--tenant', 'nope']);
    assert.equal(nope.code, 66);
    assert.match(nope.stderr, /no tenant with slug nope/);
    assert.equal(nope.stdout, '');
  });

  test('user set-password: policy-checked, ends every session in every tenant, audited', async () => {
    const s = await startServer();
    const data = s.dataDir;
    const cli = (args, input) => runCliWithInput([...args, '--data', data], input);
    const old = 'vivid-Otter-42-lantern';
    for (const slug of ['acme', 'initech'])
      assert.equal((await runCli(['tenant', 'create', '--slug', slug, '--name', slug, '--data', data])).code, 0);
    for (const slug of ['acme', 'initech'])
      assert.equal((await cli(['user', 'create', '--tenant', slug, '--email', 'ann@acme.test', '--role', 'owner', '--password-stdin'], pw(old))).code, 0);
    const login = (tenant, password) => request(`${s.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant, email: 'ann@acme.test', password },
    });
    const sessions = [];
    for (const slug of ['acme', 'initech']) {
      const r = await login(slug, old);
      assert.equal(r.status, 200, r.text);
      sessions.push(r.json);
    }

    const weak = await cli(['user', 'set-password', '--tenant', 'acme', '--email', 'ann@acme.test', '--password-stdin'], pw('password1234'));
    assert.equal(weak.code, 65, weak.stderr);
    assert.match(weak.stderr, /commonly used passwords/);
    const stranger = await cli(['user', 'set-password', '--tenant', 'acme', '--email', 'zed@acme.test', '--password-stdin'], pw('sturdy-Marmot-71-lagoon'));
    assert.equal(stranger.code, 66, stranger.stderr);
    const nothing = await cli(['user', 'set-password', '--tenant', 'acme', '--email', 'ann@acme.test', '--password-stdin'], '');
    assert.equal(nothing.code, 64, nothing.stderr);
    // a line longer than the buffer is refused, never cut to a password nobody typed
    const long = await cli(['user', 'set-password', '--tenant', 'acme', '--email', 'ann@acme.test', '--password-stdin'], pw('é'.repeat(600)));
    assert.equal(long.code, 65, long.stderr);
    assert.match(long.stderr, /longer than/);
    assert.equal((await login('acme', old)).status, 200, 'refused attempts changed nothing');
    sessions.push((await login('acme', old)).json);

    const fresh = 'sturdy-Marmot-71-lagoon';
    const r = await cli(['user', 'set-password', '--tenant', 'acme', '--email', 'Ann@Acme.test', '--password-stdin'], pw(fresh));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /password set; 4 sessions ended/);
    assert.ok(!r.stdout.includes(fresh) && !r.stderr.includes(fresh), 'the password is not echoed');

    // the running server learns of it from the database within a second of a request
    for (const sess of sessions)
      await waitFor(async () => (await api(s.url, sess.access_token).get('/api/v1/users/me')).status === 401,
        10_000, 'the running server to refuse an access token of an ended session');
    for (const sess of sessions) {
      const again = await request(`${s.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: sess.refresh_token } });
      assert.equal(again.status, 401, 'every session of the account ended, in both tenants');
    }
    assert.equal((await login('acme', old)).status, 401, 'the old password is gone');
    assert.equal((await login('initech', fresh)).status, 200, 'the new one works in every tenant');
    const owner = (await login('acme', fresh)).json.access_token;
    const audit = await api(s.url, owner).get('/api/v1/audit?action=auth.password.set_by_operator');
    assert.equal(audit.status, 200, audit.text);
    assert.equal(audit.json.items.length, 1);
    assert.equal(audit.json.items[0].actor, 'operator');
    assert.equal(await s.stop(), 0);
    const verify = await runCli(['audit', 'verify', '--data', data]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});

/**
 * Runs cairn on a pseudo-terminal (util-linux script), answering each prompt in turn; env
 * is added to this process's environment (the database of the data directory, say).
 */
function runOnTerminal(args, answers, env = {}) {
  return new Promise((resolve) => {
    const cmd = [CAIRN_BIN, ...args].map((a) => `'${a}'`).join(' ');
    const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let asked = 0;
    p.stdout.on('data', (d) => {
      out += d;
      // answer a prompt only once it is shown: the prompt flushes earlier input (TCSAFLUSH)
      const prompts = out.match(/(Password|Repeat): /g)?.length ?? 0;
      while (asked < prompts && asked < answers.length) p.stdin.write(`${answers[asked++]}\n`);
    });
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => { clearTimeout(t); p.stdin.destroy(); resolve({ code, out }); });
  });
}

describe('passwords typed on a terminal', () => {
  test('prompted twice without echo; entries that differ are bad input (65)', async () => {
    const data = tempDir();
    assert.equal((await runCli(['tenant', 'create', '--slug', 'acme', '--name', 'A', '--data', data])).code, 0);
    const pw = 'vivid-Otter-42-lantern';
    const db = await databaseEnv(data);
    const created = await runOnTerminal(['user', 'create', '--tenant', 'acme', '--email', 'ann@acme.test', '--role', 'owner', '--data', data], [pw, pw], db);
    assert.equal(created.code, 0, created.out);
    assert.match(created.out, /Password: [\s\S]*Repeat: /);
    assert.ok(!created.out.includes(pw), 'the password is not echoed');
    const differ = await runOnTerminal(['user', 'set-password', '--tenant', 'acme', '--email', 'ann@acme.test', '--data', data], ['sturdy-Marmot-71-lagoon', 'sturdy-Marmot-71-lagoom'], db);
    assert.equal(differ.code, 65, differ.out);
    assert.match(differ.out, /the two entries differ/);
    const set = await runOnTerminal(['user', 'set-password', '--tenant', 'acme', '--email', 'ann@acme.test', '--data', data], ['sturdy-Marmot-71-lagoon', 'sturdy-Marmot-71-lagoon'], db);
    assert.equal(set.code, 0, set.out);
    assert.match(set.out, /password set; 0 sessions ended/);
  });
});

describe('exit codes mean one thing each', () => {
  test('representative codes: 0, 1, 64, 65, 66, 73, 75, 78', async () => {
    const data = tempDir();
    const run = (...args) => runCli([...args, '--data', data]);
    assert.equal((await run('tenant', 'create', '--slug', 'acme', '--name', 'A')).code, 0);
    assert.equal((await run('tenant', 'create', '--slug', 'acme', '--name', 'A')).code, 1, 'exists');
    assert.equal((await run('tenant', 'create', '--slug', 'Bad Slug', '--name', 'A')).code, 65, 'bad input');
    assert.equal((await run('tenant', 'create', '--slug', 'x')).code, 64, 'usage');
    assert.equal((await run('jobs', 'show', '01a20282-0000-7000-8000-000000000000')).code, 66, 'no such job');
    assert.equal((await run('jobs', 'retry', '01a20282-0000-7000-8000-000000000000')).code, 66, 'no such job');
    const withPw = (args, p) => runCliWithInput([...args, '--password-stdin', '--data', data], `${p}\n`);
    const user = await withPw(['user', 'create', '--tenant', 'nope', '--email', 'a@b.test', '--role', 'owner'], 'vivid-Otter-42-lantern');
    assert.equal(user.code, 66, 'no such tenant');
    assert.equal((await withPw(['user', 'create', '--tenant', 'acme', '--email', 'a@b.test', '--role', 'owner'], 'vivid-Otter-42-lantern')).code, 0);
    assert.equal((await withPw(['user', 'set-password', '--tenant', 'acme', '--email', 'a@b.test'], 'sturdy-Marmot-71-lagoon')).code, 0);
    assert.equal((await run('audit', 'verify')).code, 0);
    await dbExec(data, "UPDATE audit_log SET action = 'x' WHERE seq = (SELECT MIN(seq) FROM audit_log)");
    const broken = await run('audit', 'verify');
    assert.equal(broken.code, 1, 'a failed check is 1, not bad input');
    assert.match(broken.stderr, /entry 1 was changed/);
    const file = path.join(tempDir(), 'b.db');
    writeFileSync(file, '');
    assert.equal((await run('backup', file)).code, 73);

    // another process holds the write lock past store.busy_timeout_ms: 75, try again later
    // (on PostgreSQL, a lock on the table the command writes)
    const holder = await dbSession(data);
    await holder.run({ sqlite: 'BEGIN IMMEDIATE', postgres: 'BEGIN; LOCK TABLE tenants IN EXCLUSIVE MODE' });
    let busy;
    try {
      busy = await runCli(['tenant', 'create', '--slug', 'later', '--name', 'L', '--data', data], { env: { CAIRN_BUSY_TIMEOUT_MS: '100' } });
    } finally {
      await holder.close();
    }
    assert.equal(busy.code, 75, busy.stderr);
    assert.match(busy.stderr, /busy/);
    assert.equal((await run('tenant', 'create', '--slug', 'later', '--name', 'L')).code, 0, 'and later it works');
    assert.equal((await runCli(['config', 'check'], { env: { CAIRN_THREADS: 'x' } })).code, 78);
  });
});
