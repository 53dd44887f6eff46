// Tenants through the API (the operator's token) and self-service registration in
// tenants that allow it: at once without mail, confirmed by mail (loopback smtp-server)
// where the tenant requires it, answering alike for known and unknown e-mails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  UUID_RE, api, assertProblem, dbExec, dbQuery, dbValue, request, runCli, sleep, sqlString, startServer,
  stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';
import { startMailbox } from './lib/mailbox.mjs';

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
      ['ApiKeyCreate', 'name'], ['NoteCreate', 'title'], ['NoteUpdate', 'title'], ['CustomerUpdate', 'segment'],
      ['InteractionCreate', 'event_type']];
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
      const q = assertProblem(await register({ tenant: 'initech', email: 'x', password: pw }), 422);
      assert.deepEqual(q.errors.map((e) => e.field), ['email']);
      // without confirmation the password is required (also for an e-mail with an account)
      for (const email of ['lumbergh@initech.test', 'peter@initech.test'])
        assert.equal(assertProblem(await register({ tenant: 'initech', email }), 422).errors[0].field, 'password');
      assert.equal((await login('initech', 'lumbergh@initech.test', 'short')).status, 401);
    });
  });
});

describe('self-service registration confirmed by e-mail', () => {
  const PW = 'merry-Otter-33-thimble';
  const OWN = 'steady-Koala-71-bramble';
  let msrv, mailbox, mails;
  const anonM = () => api(msrv.url, null);
  const reg = (email, tenant = 'acme', extra = {}) => anonM().post('/api/v1/auth/register', { tenant, email, ...extra });
  const confirm = (token, password = PW) => anonM().post('/api/v1/auth/register/confirm', { token, password });
  const sql = (query) => dbValue(msrv, query);
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
    mailbox = await startMailbox();
    mails = mailbox.mails;
    msrv = await startServer({
      env: {
        CAIRN_MAIL_SMTP_URL: mailbox.url, CAIRN_MAIL_FROM: 'noreply@cairn.test',
        CAIRN_REGISTER_URL: 'https://console.cairn.test/register', CAIRN_JOBS_POLL_MS: '50',
        CAIRN_REGISTER_MAIL_INTERVAL_S: '2', CAIRN_RATE_AUTH_PER_MIN: '1000',
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
  after(async () => { await stopAllServers(); mailbox.close(); });

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
    // a request stores no password: none is taken (the one confirming chooses it)
    assert.equal(await sql("SELECT COUNT(*) FROM registrations WHERE password_hash IS NOT NULL"), 0);
    const refused = [];
    for (const email of ['fresh2@acme.test', 'olga@acme.test']) {
      const p = assertProblem(await reg(email, 'acme', { password: PW }), 422);
      refused.push(JSON.stringify(p.errors));
      assert.equal(p.errors[0].field, 'password');
    }
    assert.equal(refused[1], refused[0], 'the same refusal for known and unknown e-mails');
  });

  test('the new address gets a link that creates the account and signs in, once', async () => {
    const mail = await mailTo('new@acme.test');
    assert.equal(subjectOf(mail), 'Confirm your registration at Acm\u00e9 \u2603');
    assert.match(mail.raw, /https:\/\/console\.cairn\.test\/register\?token=/);
    const token = tokenOf(mail);
    // the person confirming chooses the password, and the policy applies to it
    assert.equal(assertProblem(await anonM().post('/api/v1/auth/register/confirm', { token }), 422)
      .errors[0].field, 'password');
    assert.equal(assertProblem(await confirm(token, 'short'), 422).errors[0].field, 'password');
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
    // a click alone does not join: the account's own password does (a wrong one is a
    // failed sign-in, and the link stays usable)
    const wrong = assertProblem(await confirm(tokenOf(join), PW), 401);
    assert.match(wrong.detail, /password of the existing account/);
    assertProblem(await loginM('acme', 'kay@other.test', OWN), 401);
    const r = await confirm(tokenOf(join), OWN);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: 'joined', tenant: 'acme' });
    assert.equal((await loginM('acme', 'kay@other.test', OWN)).status, 200);
    assertProblem(await loginM('acme', 'kay@other.test', PW), 401);
  });

  test('a join is refused while the account + client is locked, even with its password', async () => {
    assert.equal((await api(msrv.url).post('/api/v1/tenants', {
      slug: 'third', name: 'Third', owner_email: 'lou@third.test', owner_password: OWN,
    })).status, 201);
    assert.equal((await reg('lou@third.test')).status, 202);
    const token = tokenOf(await mailTo('lou@third.test'));
    for (let i = 0; i < 5; i++) assertProblem(await confirm(token, `wrong-password-${i}`), 401);
    assertProblem(await confirm(token, OWN), 429);
    assertProblem(await loginM('acme', 'lou@third.test', OWN), 429); // the same count as sign-in
  });

  test('the OpenAPI document: the password is optional when registering, required when confirming', async () => {
    const schemas = (await anonM().get('/api/openapi.json')).json.components.schemas;
    assert.ok(!(schemas.RegisterRequest.required ?? []).includes('password'));
    assert.match(schemas.RegisterRequest.properties.password.description, /refused/);
    assert.deepEqual([...schemas.RegisterConfirm.required].sort(), ['password', 'token']);
  });

  test('an attacker who registers first cannot choose the password; the mailbox owner does', async () => {
    const email = 'fresh@acme.test';
    const EVIL = 'attacker-Knows-58-this';
    const MINE = 'victim-Picks-39-ledger';
    assert.equal(assertProblem(await reg(email, 'acme', { password: EVIL }), 422).errors[0].field, 'password');
    // the attacker's request, then the real person's, within one mail interval
    assert.equal((await reg(email)).status, 202);
    assert.equal((await reg(email)).status, 202);
    // every request is mailed (the second at the latest one interval later); wait for that
    await waitFor(async () => await sql(`SELECT COUNT(*) FROM registrations WHERE email = '${email}'`
      + ' AND used_at IS NULL AND token_hash IS NULL') === 0, 15_000, 'the newest registration to be mailed');
    const sent = Number(await sql(`SELECT COUNT(*) FROM registrations WHERE email = '${email}' AND token_hash IS NOT NULL`));
    assert.ok(sent >= 1 && sent <= 2, `one or two mails, not ${sent}`);
    const inbox = await waitFor(() => {
      const m = mails.filter((x) => x.to.includes(email));
      return m.length === sent && m;
    }, 5000, 'the mails');
    // a link mailed before the newest one stopped working; the newest works
    for (const m of inbox.slice(0, -1))
      assert.equal(assertProblem(await confirm(tokenOf(m), EVIL), 422).errors[0].field, 'token');
    const r = await confirm(tokenOf(inbox.at(-1)), MINE);
    assert.equal(r.status, 201, r.text);
    assertProblem(await loginM('acme', email, EVIL), 401);
    assert.equal((await loginM('acme', email, MINE)).status, 200);
  });

  test('a stored tenant name with line breaks cannot add a header: the subject is encoded', async () => {
    assert.equal((await api(msrv.url).post('/api/v1/tenants', { slug: 'evilco', name: 'Evil', allow_registration: true })).status, 201);
    await dbExec(msrv, `UPDATE tenants SET name = ${sqlString('Evil\r\nBcc: eve@evil.test\nX-Evil: 1\u202e')} WHERE slug = 'evilco'`);
    assert.equal((await reg('victim@evilco.test', 'evilco')).status, 202);
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
    assert.equal((await reg('quick@acme.test', 'acme', { password: PW })).status, 201);
    assertProblem(await reg('olga@acme.test', 'acme', { password: PW }), 409);
    p = await owner.patch('/api/v1/tenant', { registration_requires_confirmation: null });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.registration_requires_confirmation, true, 'null follows the server again');
    assert.equal((await reg('later@acme.test')).status, 202);
  });
});

/** A server that mails through mailbox, with one tenant open to registration. */
async function mailingServer(mailbox, slug, name, env) {
  const s = await startServer({
    env: {
      CAIRN_MAIL_SMTP_URL: mailbox.url, CAIRN_MAIL_FROM: 'noreply@cairn.test', CAIRN_JOBS_POLL_MS: '50', ...env,
    },
  });
  const t = await api(s.url).post('/api/v1/tenants', { slug, name, allow_registration: true });
  assert.equal(t.status, 201, t.text);
  return s;
}

describe('registration links expire', () => {
  test('a token older than auth.register_ttl_s is refused', async () => {
    const mailbox = await startMailbox();
    const { mails } = mailbox;
    try {
      const s = await mailingServer(mailbox, 'brief', 'Brief', { CAIRN_REGISTER_TTL_S: '1' });
      const r = await api(s.url, null).post('/api/v1/auth/register', { tenant: 'brief', email: 'slow@brief.test' });
      assert.equal(r.status, 202, r.text);
      await waitFor(() => mails.length === 1, 5000, 'the confirmation mail');
      const token = /with the token ([A-Za-z0-9_-]+)/.exec(mails[0].raw)[1]; // no auth.register_url: the token itself
      await sleep(1500);
      const p = assertProblem(await api(s.url, null).post('/api/v1/auth/register/confirm',
        { token, password: 'merry-Otter-33-thimble' }), 422);
      assert.equal(p.errors[0].field, 'token');
      assert.match(p.errors[0].message, /invalid, used or expired/);
    } finally {
      mailbox.close();
    }
  });
});

describe('registration mails are rate-limited per address, and the mailed link works', () => {
  test('three requests in a row: one mail now, one planned an interval later, and its link works', async () => {
    const mailbox = await startMailbox();
    const { mails } = mailbox;
    try {
      const s = await mailingServer(mailbox, 'bomb', 'Bomb', { CAIRN_REGISTER_MAIL_INTERVAL_S: '3600' });
      for (let i = 0; i < 3; i++) {
        const r = await api(s.url, null).post('/api/v1/auth/register', { tenant: 'bomb', email: 'target@bomb.test' });
        assert.equal(r.status, 202, r.text);
      }
      await waitFor(() => mails.length === 1, 5000, 'the first mail');
      const jobs = await dbQuery(s, "SELECT run_at FROM jobs WHERE name = 'auth.registration_mail' ORDER BY run_at");
      const later = Date.now() + 3000 * 1000;
      assert.deepEqual(jobs.map((j) => j.run_at > later), [false, true], 'one mail now, one in an hour: not three');
      // whichever registration the mail carries, its link works until a newer one is mailed
      const token = /with the token ([A-Za-z0-9_-]+)/.exec(mails[0].raw)[1];
      const r = await api(s.url, null).post('/api/v1/auth/register/confirm', { token, password: 'merry-Otter-33-thimble' });
      assert.equal(r.status, 201, r.text);
    } finally {
      mailbox.close();
    }
  });
});
