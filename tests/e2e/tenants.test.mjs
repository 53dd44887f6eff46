// Tenants through the API (the operator's token) and self-service registration in
// tenants that allow it: at once without mail, confirmed by mail (loopback smtp-server)
// where the tenant requires it, answering alike for known and unknown e-mails.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import {
  UUID_RE, api, assertProblem, request, runCli, runProgram, sleep, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

let srv;
const op = () => api(srv.url);
const anon = () => api(srv.url, null);
const login = (tenant, email, password) =>
  request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant, email, password } });
const register = (body) => anon().post('/api/v1/auth/register', body);

before(async () => {
  srv = await startServer({ env: { CAIRN_RATE_AUTH_PER_MIN: '1000' } });
});

describe('tenants (operator)', () => {
  let owner; // the first owner's session in "initech"

  test('creates a tenant with a new owner account, who can sign in', async () => {
    const r = await op().post('/api/v1/tenants', {
      slug: 'initech', name: 'Initech', owner_email: 'Peter@Initech.test', owner_password: 'steady-Koala-71-bramble',
    });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.id, UUID_RE);
    assert.equal(r.headers.location, `/api/v1/tenants/${r.json.id}`);
    assert.deepEqual({ ...r.json, id: undefined, created_at: undefined }, {
      id: undefined, created_at: undefined, slug: 'initech', name: 'Initech',
      mfa_required_for_admins: false, allow_registration: false,
      registration_requires_confirmation: false, // no mail.smtp_url on this server
    });
    const got = await op().get(r.headers.location);
    assert.equal(got.status, 200);
    assert.equal(got.json.slug, 'initech');
    const l = await login('initech', 'peter@initech.test', 'steady-Koala-71-bramble');
    assert.equal(l.status, 200, l.text);
    owner = api(srv.url, l.json.access_token);
    const me = await owner.get('/api/v1/users/me');
    assert.equal(me.json.role, 'owner');
    assert.equal(me.json.tenant.slug, 'initech');
  });

  test('an existing account becomes the owner of a further tenant with its own password', async () => {
    const r = await op().post('/api/v1/tenants', { slug: 'initrode', name: 'Initrode', owner_email: 'peter@initech.test' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await login('initrode', 'peter@initech.test', 'steady-Koala-71-bramble')).status, 200);
  });

  test('lists every tenant with cursor pagination', async () => {
    const first = await op().get('/api/v1/tenants?limit=1');
    assert.equal(first.status, 200);
    assert.equal(first.json.items.length, 1);
    assert.ok(first.json.next_cursor);
    const all = await op().get('/api/v1/tenants?limit=200');
    const slugs = all.json.items.map((t) => t.slug);
    assert.ok(slugs.includes('initech') && slugs.includes('initrode'), slugs.join());
    assert.equal(all.json.next_cursor, null);
  });

  test('bad input names the field; nothing is created', async () => {
    assert.match(assertProblem(await op().post('/api/v1/tenants', { slug: 'initech', name: 'Again' }), 409).detail,
      /slug initech exists/);
    let p = assertProblem(await op().post('/api/v1/tenants', { slug: 'Bad Slug', name: 'x' }), 422);
    assert.equal(p.errors[0].field, 'slug');
    p = assertProblem(await op().post('/api/v1/tenants', { slug: 'nopw', name: 'x', owner_email: 'new@nopw.test' }), 422);
    assert.equal(p.errors[0].field, 'owner_password');
    p = assertProblem(await op().post('/api/v1/tenants', {
      slug: 'weak', name: 'x', owner_email: 'new@weak.test', owner_password: 'password1234',
    }), 422);
    assert.equal(p.errors[0].field, 'owner_password');
    p = assertProblem(await op().post('/api/v1/tenants', { slug: 'x', name: 'x', owner_email: 'not-an-email' }), 422);
    assert.equal(p.errors[0].field, 'owner_email');
    const slugs = (await op().get('/api/v1/tenants?limit=200')).json.items.map((t) => t.slug);
    assert.deepEqual(slugs.filter((s) => ['nopw', 'weak', 'x'].includes(s)), []);
  });

  test('names and titles are one line of plain text, in every schema (one rule)', async () => {
    const bad = ['Evil\r\nBcc: eve@evil.test', 'tab\there', 'bell\u0007', 'del\u007f',
      'nel\u0085', 'line\u2028sep', 'para\u2029sep', 'gnp.exe\u202Etxt', 'iso\u2066late\u2069'];
    const fieldOf = (p) => p.errors.map((e) => e.field);
    for (const name of bad) {
      const p = assertProblem(await op().post('/api/v1/tenants', { slug: 'ctl', name }), 422);
      assert.equal(p.type, 'urn:cairn:problem:validation-failed');
      assert.deepEqual(fieldOf(p), ['name'], JSON.stringify(name));
      assert.match(p.errors[0].message, /one line of text/);
    }
    const name = 'Acme\r\nInc';
    assert.deepEqual(fieldOf(assertProblem(await owner.patch('/api/v1/tenant', { name }), 422)), ['name']);
    assert.deepEqual(fieldOf(assertProblem(await owner.post('/api/v1/roles', { name: 'r\u202e', permissions: ['notes.read'] }), 422)), ['name']);
    assert.deepEqual(fieldOf(assertProblem(await owner.post('/api/v1/api-keys', { name, permissions: ['notes.read'] }), 422)), ['name']);
    assert.deepEqual(fieldOf(assertProblem(await owner.post('/api/v1/notes', { title: name, body: 'ok' }), 422)), ['title']);
    const note = await owner.post('/api/v1/notes', { title: 'Caf\u00e9 \u4e2d\u6587 \u{1F600}', body: 'free text\r\nkeeps\tits lines' });
    assert.equal(note.status, 201, note.text);
    assert.deepEqual(fieldOf(assertProblem(await owner.patch(`/api/v1/notes/${note.json.id}`, { title: 'x\u2029' }), 422)), ['title']);
    const customer = '0190d1a0-0000-7000-8000-000000000001';
    assert.deepEqual(fieldOf(assertProblem(await owner.put(`/api/v1/customers/${customer}`, { segment: 'vip\n' }), 422)), ['segment']);
    assert.deepEqual(fieldOf(assertProblem(await owner.post('/api/v1/interactions', {
      customer_id: customer, timestamp: new Date().toISOString(), channel: 'web', event_type: 'view\u0001',
    }), 422)), ['event_type']);
    const slugs = (await op().get('/api/v1/tenants?limit=200')).json.items.map((t) => t.slug);
    assert.ok(!slugs.includes('ctl'));
    // the operator CLI keeps the same rule
    const cli = await runCli(['tenant', 'create', '--slug', 'ctl', '--name', 'Evil\r\nx', '--data', tempDir()]);
    assert.equal(cli.code, 65, cli.stderr);
    assert.match(cli.stderr, /--name: one line of text/);
  });

  test('the OpenAPI document states the rule as a pattern that refuses the same names', async () => {
    const doc = (await anon().get('/api/openapi.json')).json;
    const schemas = doc.components.schemas;
    const fields = [['TenantUpdate', 'name'], ['TenantCreate', 'name'], ['RoleCreate', 'name'],
      ['ApiKeyCreate', 'name'], ['NoteCreate', 'title'], ['NoteUpdate', 'title'], ['Customer', 'segment'],
      ['Interaction', 'event_type']];
    for (const [schema, field] of fields) {
      const pattern = schemas[schema]?.properties?.[field]?.pattern;
      assert.equal(typeof pattern, 'string', `${schema}.${field} has a pattern`);
      const re = new RegExp(pattern, 'u');
      assert.ok(re.test('Caf\u00e9 \u{1F600} Inc.'));
      for (const c of ['\r', '\n', '\t', '\u0000', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066'])
        assert.ok(!re.test(`a${c}b`), `${schema}.${field} refuses ${JSON.stringify(c)}`);
    }
    assert.equal(schemas.NoteCreate.properties.body.pattern, undefined, 'free text keeps its lines');
  });

  test('tenant owners cannot create or list tenants (a platform permission)', async () => {
    assertProblem(await owner.post('/api/v1/tenants', { slug: 'mine', name: 'Mine' }), 403);
    assertProblem(await owner.get('/api/v1/tenants'), 403);
    assertProblem(await anon().get('/api/v1/tenants'), 401);
  });

  describe('self-service registration', () => {
    const pw = 'merry-Otter-33-thimble';

    test('a tenant that does not allow it answers 403, like an unknown one', async () => {
      const closed = assertProblem(await register({ tenant: 'initech', email: 'milton@initech.test', password: pw }), 403);
      const unknown = assertProblem(await register({ tenant: 'nowhere', email: 'milton@initech.test', password: pw }), 403);
      assert.equal(closed.detail, unknown.detail);
    });

    test('once the owner opens it: 201 with tokens, role member, audited', async () => {
      const patched = await owner.patch('/api/v1/tenant', { allow_registration: true });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json.allow_registration, true);
      const r = await register({ tenant: 'initech', email: 'Milton@Initech.test', password: pw });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.token_type, 'Bearer');
      const me = await api(srv.url, r.json.access_token).get('/api/v1/users/me');
      assert.equal(me.json.email, 'milton@initech.test');
      assert.equal(me.json.role, 'member');
      assert.equal((await login('initech', 'milton@initech.test', pw)).status, 200);
      const audit = await owner.get('/api/v1/audit?action=auth.register');
      assert.equal(audit.json.items.length, 1);
      assert.equal(audit.json.items[0].actor, me.json.id);
    });

    test('an e-mail with an account is refused, weak passwords name the field', async () => {
      assert.match(assertProblem(await register({ tenant: 'initech', email: 'peter@initech.test', password: pw }), 409).detail,
        /account with this e-mail exists/);
      const p = assertProblem(await register({ tenant: 'initech', email: 'lumbergh@initech.test', password: 'short' }), 422);
      assert.equal(p.errors[0].field, 'password');
      const q = assertProblem(await register({ tenant: 'initech', email: 'x' }), 422);
      assert.deepEqual(q.errors.map((e) => e.field).sort(), ['email', 'password']);
      assert.equal((await login('initech', 'lumbergh@initech.test', 'short')).status, 401);
    });
  });
});

describe('self-service registration confirmed by e-mail', () => {
  const PW = 'merry-Otter-33-thimble';
  const OWN = 'steady-Koala-71-bramble';
  let msrv, smtp;
  const mails = [];
  const anonM = () => api(msrv.url, null);
  const reg = (email, password = PW, tenant = 'acme') => anonM().post('/api/v1/auth/register', { tenant, email, password });
  const confirm = (token) => anonM().post('/api/v1/auth/register/confirm', { token });
  const loginM = (tenant, email, password) =>
    request(`${msrv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant, email, password } });
  const mailTo = (email) => waitFor(() => mails.find((m) => m.to.includes(email)), 5000, `the mail to ${email}`);
  const tokenOf = (mail) => /token=([A-Za-z0-9_-]+)/.exec(mail.raw)?.[1];
  const subjectOf = (mail) => {
    const m = /^Subject:(.*(?:\r\n .*)*)/m.exec(mail.raw)[1].replace(/\r\n /g, '');
    return m.trim().replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/g, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
  };
  let owner;

  before(async () => {
    smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, cb) {
        const chunks = [];
        stream.on('data', (d) => chunks.push(d));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          cb();
        });
      },
    });
    await new Promise((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    msrv = await startServer({
      env: {
        CAIRN_MAIL_SMTP_URL: `smtp://127.0.0.1:${smtp.server.address().port}`, CAIRN_MAIL_FROM: 'noreply@cairn.test',
        CAIRN_REGISTER_URL: 'https://console.cairn.test/register', CAIRN_JOBS_POLL_MS: '50',
      },
    });
    const t = await api(msrv.url).post('/api/v1/tenants', {
      slug: 'acme', name: 'Acm\u00e9 \u2603', allow_registration: true, owner_email: 'olga@acme.test', owner_password: OWN,
    });
    assert.equal(t.status, 201, t.text);
    assert.equal(t.json.registration_requires_confirmation, true, 'on by default where mail is configured');
    assert.equal((await api(msrv.url).post('/api/v1/tenants', {
      slug: 'other', name: 'Other', owner_email: 'kay@other.test', owner_password: OWN,
    })).status, 201);
    owner = api(msrv.url, (await loginM('acme', 'olga@acme.test', OWN)).json.access_token);
  });
  after(async () => { await stopAllServers(); smtp.close(); });

  test('known and unknown e-mails get the same answer, and nothing is created yet', async () => {
    const answers = [];
    for (const email of ['New@Acme.test', 'olga@acme.test', 'kay@other.test']) {
      const r = await reg(email);
      answers.push({ status: r.status, type: r.headers['content-type'], body: r.text });
    }
    assert.deepEqual(answers[0], { status: 202, type: 'application/json', body: '{"status":"confirmation_sent"}' });
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assertProblem(await loginM('acme', 'new@acme.test', PW), 401);
    assertProblem(await loginM('acme', 'kay@other.test', OWN), 401);
    // the password waits as an argon2id hash, never in plain, and not in the job queue
    const db = path.join(msrv.dataDir, 'cairn.db');
    const rows = await runProgram('sqlite3', ['-cmd', '.timeout 5000', db,
      "SELECT password_hash FROM registrations WHERE email = 'new@acme.test'"]);
    assert.match(rows.stdout, /^\$argon2id\$/);
    const dump = await runProgram('sqlite3', ['-cmd', '.timeout 5000', db, '.dump']);
    assert.ok(!dump.stdout.includes(PW), 'the password is nowhere in the database');
  });

  test('the new address gets a link that creates the account and signs in, once', async () => {
    const mail = await mailTo('new@acme.test');
    assert.equal(subjectOf(mail), 'Confirm your registration at Acm\u00e9 \u2603');
    assert.match(mail.raw, /https:\/\/console\.cairn\.test\/register\?token=/);
    const token = tokenOf(mail);
    const r = await confirm(token);
    assert.equal(r.status, 201, r.text);
    const me = await api(msrv.url, r.json.access_token).get('/api/v1/users/me');
    assert.equal(me.json.email, 'new@acme.test');
    assert.equal(me.json.role, 'member');
    assert.equal((await loginM('acme', 'new@acme.test', PW)).status, 200);
    assert.equal(assertProblem(await confirm(token), 422).errors[0].field, 'token');
    const audit = await owner.get('/api/v1/audit?action=auth.register');
    assert.equal(audit.json.items.length, 1);
  });

  test('a member\'s address gets a notice (no link); another account\'s gets a link to join', async () => {
    const notice = await mailTo('olga@acme.test');
    assert.equal(tokenOf(notice), undefined);
    assert.match(notice.raw, /already has an account there/);
    assert.match(subjectOf(notice), /^Someone tried to register you at /);
    const join = await mailTo('kay@other.test');
    assert.match(join.raw, /already has an account/);
    const r = await confirm(tokenOf(join));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'joined', tenant: 'acme' });
    // the account keeps its own password; the one in the request was never set
    assert.equal((await loginM('acme', 'kay@other.test', OWN)).status, 200);
    assertProblem(await loginM('acme', 'kay@other.test', PW), 401);
  });

  test('a stored tenant name with line breaks cannot add a header: the subject is encoded', async () => {
    assert.equal((await api(msrv.url).post('/api/v1/tenants', { slug: 'evilco', name: 'Evil', allow_registration: true })).status, 201);
    const db = path.join(msrv.dataDir, 'cairn.db');
    const upd = await runProgram('sqlite3', ['-cmd', '.timeout 5000', db,
      "UPDATE tenants SET name = 'Evil' || char(13, 10) || 'Bcc: eve@evil.test' || char(10) || 'X-Evil: 1' || char(8238) WHERE slug = 'evilco'"]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.equal((await reg('victim@evilco.test', PW, 'evilco')).status, 202);
    const mail = await mailTo('victim@evilco.test');
    assert.deepEqual(mail.to, ['victim@evilco.test']);
    const head = mail.raw.split('\r\n\r\n')[0];
    assert.doesNotMatch(head, /^(Bcc|X-Evil):/im);
    assert.match(head, /^Subject: =\?UTF-8\?B\?/m);
    assert.equal(subjectOf(mail), 'Confirm your registration at Evil\uFFFD\uFFFDBcc: eve@evil.test\uFFFDX-Evil: 1\uFFFD');
    assert.doesNotMatch(mail.raw.split('\r\n\r\n').slice(1).join(''), /^(Bcc|X-Evil):/m);
  });

  test('the tenant can turn confirmation off (today\'s answers, which reveal accounts) and back', async () => {
    let p = await owner.patch('/api/v1/tenant', { registration_requires_confirmation: false });
    assert.equal(p.json.registration_requires_confirmation, false);
    assert.equal((await reg('quick@acme.test')).status, 201);
    assertProblem(await reg('olga@acme.test'), 409);
    p = await owner.patch('/api/v1/tenant', { registration_requires_confirmation: null });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.registration_requires_confirmation, true, 'null follows the server again');
    assert.equal((await reg('later@acme.test')).status, 202);
  });
});

describe('registration links expire', () => {
  test('a token older than auth.register_ttl_s is refused', async () => {
    const mails = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (d) => { raw += d; });
        stream.on('end', () => { mails.push(raw); cb(); });
      },
    });
    await new Promise((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    try {
      const s = await startServer({
        env: {
          CAIRN_MAIL_SMTP_URL: `smtp://127.0.0.1:${smtp.server.address().port}`, CAIRN_MAIL_FROM: 'noreply@cairn.test',
          CAIRN_JOBS_POLL_MS: '50', CAIRN_REGISTER_TTL_S: '1',
        },
      });
      assert.equal((await api(s.url).post('/api/v1/tenants', { slug: 'brief', name: 'Brief', allow_registration: true })).status, 201);
      const r = await api(s.url, null).post('/api/v1/auth/register', { tenant: 'brief', email: 'slow@brief.test', password: 'merry-Otter-33-thimble' });
      assert.equal(r.status, 202, r.text);
      await waitFor(() => mails.length === 1, 5000, 'the confirmation mail');
      const token = /with the token ([A-Za-z0-9_-]+)/.exec(mails[0])[1]; // no auth.register_url: the token itself
      await sleep(1500);
      const p = assertProblem(await api(s.url, null).post('/api/v1/auth/register/confirm', { token }), 422);
      assert.equal(p.errors[0].field, 'token');
      assert.match(p.errors[0].message, /invalid, used or expired/);
    } finally {
      smtp.close();
    }
  });
});
