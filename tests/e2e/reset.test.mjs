// Password reset by e-mail against a real SMTP server on loopback (npm smtp-server): the
// mail carries a single-use token, the reset ends every session, and the request
// answers the same whether or not the account exists.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMailbox } from './lib/mailbox.mjs';
import {
  api, assertProblem, dbExec, request, sleep, sqlString, startServer, stopAllServers, waitFor,
} from './lib/server.mjs';

const PASSWORD = 'steady-Koala-71-bramble';
const NEW_PASSWORD = 'quiet-Heron-38-lantern';

describe('password reset', () => {
  let srv, mailbox, mails;
  before(async () => {
    mailbox = await startMailbox();
    mails = mailbox.mails;
    srv = await startServer({
      env: {
        CAIRN_MAIL_SMTP_URL: mailbox.url, CAIRN_MAIL_FROM: 'noreply@cairn.test',
        CAIRN_RESET_URL: 'https://console.cairn.test/reset', CAIRN_JOBS_POLL_MS: '50',
      },
    });
    const t = await api(srv.url).post('/api/v1/tenants', {
      slug: 'resetco', name: 'Reset Co', owner_email: 'kim@resetco.test', owner_password: PASSWORD,
    });
    assert.equal(t.status, 201);
  });
  after(async () => { await stopAllServers(); mailbox.close(); });

  const login = (password) => request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'resetco', email: 'kim@resetco.test', password },
  });
  const ask = (tenant, email) => request(`${srv.url}/api/v1/auth/password/reset-request`, {
    method: 'POST', body: { tenant, email },
  });
  const reset = (token, password) => request(`${srv.url}/api/v1/auth/password/reset`, {
    method: 'POST', body: { token, new_password: password },
  });
  const tokenOf = (mail) => /token=([A-Za-z0-9_-]+)/.exec(mail.raw)[1];

  test('unknown accounts and tenants get the same answer, and no mail', async () => {
    for (const [tenant, email] of [['resetco', 'nobody@resetco.test'], ['nope', 'kim@resetco.test']]) {
      const r = await ask(tenant, email);
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { status: 'accepted' });
    }
    await sleep(300);
    assert.equal(mails.length, 0);
  });

  test('a mailed token sets a new password once and ends every session', async () => {
    const before = await login(PASSWORD);
    assert.equal(before.status, 200);
    const session = api(srv.url, before.json.access_token);
    const r = await ask('resetco', 'Kim@ResetCo.test');
    assert.equal(r.status, 202);
    await waitFor(() => mails.length === 1, 5000, 'the reset mail');
    const mail = mails[0];
    assert.deepEqual(mail.to, ['kim@resetco.test']);
    assert.match(mail.raw, /Subject: Reset your password/);
    assert.match(mail.raw, /https:\/\/console\.cairn\.test\/reset\?token=/);
    const token = tokenOf(mail);
    // the database holds no usable token: neither in the job queue nor in the table
    const jobs = await api(srv.url).get('/api/v1/jobs?name=auth.password_reset_mail');
    assert.ok(!JSON.stringify(jobs.json).includes(token));

    const weak = assertProblem(await reset(token, 'password1234'), 422);
    assert.equal(weak.errors[0].field, 'new_password');
    assert.equal((await reset(token, NEW_PASSWORD)).status, 204);
    assertProblem(await login(PASSWORD), 401);
    assert.equal((await login(NEW_PASSWORD)).status, 200);
    assertProblem(await session.get('/api/v1/users/me'), 401); // the old session ended
    const again = assertProblem(await reset(token, 'another-Otter-55-meadow'), 422);
    assert.equal(again.errors[0].field, 'token');
    const audit = await api(srv.url).get('/api/v1/audit?action=auth.password.reset');
    assert.equal(audit.status, 200);
  });

  test('a stored name with line breaks, controls and bidi overrides reaches the mail as plain text', async () => {
    // rows from before names were checked: written behind the API's back
    assert.equal((await api(srv.url).post('/api/v1/tenants', {
      slug: 'oldco', name: 'Old Co', owner_email: 'ola@oldco.test', owner_password: PASSWORD,
    })).status, 201);
    const evil = 'Old Co\r\nBcc: eve@evil.test\r\n\r\n.\nRCPT TO:<eve@evil.test>\rx\u202egpj\u0085\u2028\u0007';
    await dbExec(srv, `UPDATE tenants SET name = ${sqlString(evil)} WHERE slug = 'oldco'`);
    const before = mails.length;
    assert.equal((await ask('oldco', 'ola@oldco.test')).status, 202);
    await waitFor(() => mails.length > before, 5000, 'the reset mail');
    const mail = mails.at(-1);
    assert.deepEqual(mail.to, ['ola@oldco.test']); // no recipient added
    const [head, ...rest] = mail.raw.split('\r\n\r\n');
    const body = rest.join('\r\n\r\n');
    const names = head.split('\r\n').filter((l) => !l.startsWith(' ')).map((l) => l.split(':')[0].toLowerCase());
    assert.deepEqual(names.filter((n) => !['received', 'date', 'from', 'to', 'subject', 'message-id',
      'mime-version', 'content-type', 'content-transfer-encoding'].includes(n)), [], head);
    assert.match(head, /^Content-Type: text\/plain; charset=utf-8$/m);
    // every line break in the body is CRLF, and the name stayed on its line
    assert.doesNotMatch(body, /\r(?!\n)|(?<!\r)\n/);
    assert.doesNotMatch(body, /^(Bcc:|\.|RCPT)/m);
    assert.doesNotMatch(body, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    assert.match(body, /in Old Co\uFFFD\uFFFDBcc: eve@evil\.test\uFFFD{4}\.\uFFFDRCPT TO:<eve@evil\.test>\uFFFDx\uFFFDgpj\uFFFD{3}\./);
    assert.match(body, /token=[A-Za-z0-9_-]+/); // and it still works as a reset mail
  });

  test('a password reset clears the sign-in lockout of the account', async () => {
    assert.equal((await api(srv.url).post('/api/v1/tenants', {
      slug: 'lockco', name: 'Lock Co', owner_email: 'lou@lockco.test', owner_password: PASSWORD,
    })).status, 201);
    const as = (password) => request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: 'lockco', email: 'lou@lockco.test', password },
    });
    for (let i = 0; i < 5; i++) assert.equal((await as(`wrong-password-${i}`)).status, 401);
    assertProblem(await as(PASSWORD), 429);
    const before = mails.length;
    assert.equal((await ask('lockco', 'lou@lockco.test')).status, 202);
    await waitFor(() => mails.slice(before).some((m) => m.to[0] === 'lou@lockco.test'), 5000, 'the reset mail');
    const token = tokenOf(mails.slice(before).find((m) => m.to[0] === 'lou@lockco.test'));
    assert.equal((await reset(token, NEW_PASSWORD)).status, 204);
    const l = await as(NEW_PASSWORD);
    assert.equal(l.status, 200, l.text);
  });

  test('bad tokens and bodies name the field', async () => {
    assert.equal(assertProblem(await reset('not-a-token', NEW_PASSWORD), 422).errors[0].field, 'token');
    const p = assertProblem(await request(`${srv.url}/api/v1/auth/password/reset`, { method: 'POST', body: { token: 'x' } }), 422);
    assert.equal(p.errors[0].field, 'new_password');
    const q = assertProblem(await ask('resetco', 'not-an-email'), 422);
    assert.equal(q.errors[0].field, 'email');
  });
});

describe('password reset without a mail server', () => {
  after(stopAllServers);

  test('the request is accepted; the mail job fails visibly and keeps no token', async () => {
    const srv = await startServer({ env: { CAIRN_JOBS_POLL_MS: '50', CAIRN_JOBS_BACKOFF_MS: '50' } });
    await api(srv.url).post('/api/v1/tenants', {
      slug: 'nomail', name: 'No Mail', owner_email: 'lee@nomail.test', owner_password: PASSWORD,
    });
    const r = await request(`${srv.url}/api/v1/auth/password/reset-request`, {
      method: 'POST', body: { tenant: 'nomail', email: 'lee@nomail.test' },
    });
    assert.equal(r.status, 202);
    assert.equal(r.reason, 'Accepted'); // the status line says what 202 means
    const out = await waitFor(async () => {
      const l = await runJobsList(srv);
      return /auth\.password_reset_mail/.test(l) && /mail\.smtp_url is not set/.test(l) ? l : null;
    }, 10_000, 'the failed mail job');
    assert.ok(out);
  });
});

async function runJobsList(srv) {
  const { runCli } = await import('./lib/server.mjs');
  const res = await runCli(['jobs', 'list', '--data', srv.dataDir]);
  return res.stdout + res.stderr;
}
