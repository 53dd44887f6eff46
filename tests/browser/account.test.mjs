// The account section and the signed-out account pages in chromium against the real binary:
// MFA enrolment read off the page (the secret shown as text; the QR code drawn as SVG), the
// recovery codes once (downloaded as a file), then signing in with a TOTP code and with a
// recovery code; password change with the policy's error inline; password reset and
// registration confirmation from the links the loopback mailbox receives; the tenant
// switcher (the second tenant's data and none of the first's; the code asked for when the
// target requires it); sign-out everywhere ending another browser's session; one's own data
// exported and the account deleted; phone width. axe on every page and state, screenshots
// light and dark into test-output/console/.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { CairnClient } from '../../sdk/js/index.js';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import { startMailbox } from '../e2e/lib/mailbox.mjs';
import { base32Decode, totp } from '../e2e/lib/totp.mjs';
import {
  PW, checkA11y, createTenant, launch, openPage, operator, screenshots, signIn, signOut, startConsoleServer,
} from './lib/console.mjs';

// Where the operator points the mails' links: the console's own pages (docs/console.md).
const PUBLIC = 'https://console.cairn.test';

let srv;
let browser;
let mailbox;

before(async () => {
  mailbox = await startMailbox();
  srv = await startConsoleServer({
    env: {
      CAIRN_MAIL_SMTP_URL: mailbox.url, CAIRN_MAIL_FROM: 'noreply@cairn.test', CAIRN_JOBS_POLL_MS: '50',
      CAIRN_RESET_URL: `${PUBLIC}/console/reset`, CAIRN_REGISTER_URL: `${PUBLIC}/console/register/confirm`,
    },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stopAllServers();
  mailbox?.close();
});

/** The console link of the newest mail to `to` (after `since` mails), opened on this server. */
async function mailedLink(to, since, route) {
  await waitFor(() => mailbox.mails.slice(since).some((m) => m.to.includes(to)), 15_000, `the mail to ${to}`);
  const mail = mailbox.mails.slice(since).findLast((m) => m.to.includes(to));
  const m = new RegExp(`${PUBLIC.replace(/\./g, '\\.')}(/console${route}\\?token=[A-Za-z0-9_-]+)`).exec(mail.raw);
  assert.ok(m, `a link to /console${route} in the mail:\n${mail.raw}`);
  return `${srv.url}${m[1]}`;
}

/** No horizontal scrolling at the page's width. */
async function assertFits(page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: innerWidth }));
  assert.ok(scroll <= width, `page ${scroll} px wide in a ${width} px window`);
}

async function openMenu(page) {
  await page.getByRole('button', { name: /^Account/ }).click();
}

test('MFA enrolment from the page: QR code, secret as text, recovery codes once; then TOTP and recovery-code sign-ins', async () => {
  const t = await createTenant(srv, 'enrol', { name: 'Enrol Ltd' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'enrol', email: t.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Security' }).click();
  await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
  await checkA11y(page, 'security');
  await screenshots(page, 'account-security');

  await page.getByRole('button', { name: 'Set up two-step verification' }).click();
  const qr = page.getByRole('img', { name: /QR code/ });
  await qr.waitFor();
  assert.equal(await qr.evaluate((e) => e.tagName.toLowerCase()), 'svg');
  assert.ok(await qr.locator('rect.qr-module').count() > 50, 'the QR code is drawn as SVG rects');
  assert.equal(await page.locator('main img').count(), 0, 'no image (the CSP allows no data: URI)');
  const secret = base32Decode((await page.getByLabel('Secret key').textContent()).replace(/\s+/g, ''));
  await checkA11y(page, 'MFA enrolment: scan');
  await screenshots(page, 'account-mfa-scan');

  const confirm = page.getByRole('form', { name: 'Confirm two-step verification' });
  await confirm.getByLabel('Code from your authenticator app').fill('000000' === totp(secret) ? '111111' : '000000');
  await confirm.getByRole('button', { name: 'Turn on' }).click();
  await confirm.locator('.field-error, [role="alert"]').first().waitFor();
  await checkA11y(page, 'MFA enrolment: a wrong code');
  // the previous step's code: the current one stays unused for the sign-in below. A step
  // boundary passing between computing it and the server checking it makes it two steps old
  // (refused): then once more with a fresh one.
  const stored = page.getByRole('heading', { name: 'Store your recovery codes now' });
  for (let attempt = 1; ; attempt++) {
    await confirm.getByLabel('Code from your authenticator app').fill(totp(secret, Date.now() - 30_000));
    await confirm.getByRole('button', { name: 'Turn on' }).click();
    if (await stored.waitFor({ timeout: 15_000 }).then(() => true, () => false)) break;
    assert.ok(attempt < 2, `the recovery codes after a valid code; the page says: ${await page.locator('main').innerText()}`);
  }
  const codes = (await page.getByRole('list', { name: 'Recovery codes' }).locator('li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download as a text file' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'cairn-recovery-codes.txt');
  const file = await readFile(await download.path(), 'utf8');
  for (const c of codes) assert.ok(file.split('\n').includes(c), `${c} in the downloaded file`);
  const done = page.getByRole('button', { name: 'Done' });
  assert.equal(await done.isDisabled(), true, 'Done waits for "I have stored these codes"');
  await checkA11y(page, 'MFA enrolment: recovery codes');
  await screenshots(page, 'account-mfa-recovery-codes');
  await page.getByLabel('I have stored these codes somewhere safe').check();
  await done.click();
  await page.getByText(/Two-step verification is on/).waitFor();
  assert.equal(await page.getByText(codes[0]).count(), 0, 'the codes are gone');

  await signOut(page);
  await signIn(page, srv, { tenant: 'enrol', email: t.email, totp: () => totp(secret) });
  await signOut(page);
  await signIn(page, srv, { tenant: 'enrol', email: t.email, recoveryCode: codes[3] });
  await page.goto(`${srv.url}/console/account/security`);
  await page.getByText(/Two-step verification is on/).waitFor();
  watcher.assertClean();
  await context.close();
});

test('password change: the policy\'s error inline, a wrong current password; then sign in with the new one', async () => {
  const t = await createTenant(srv, 'pwchange', { name: 'PW Change' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'pwchange', email: t.email });
  await page.goto(`${srv.url}/console/account/security`);
  const form = page.getByRole('form', { name: 'Change password' });
  await form.getByLabel('Current password').fill(PW);
  await form.getByLabel('New password', { exact: true }).fill('password12345');
  await form.getByLabel('New password again').fill('password12345');
  await form.getByRole('button', { name: 'Change password' }).click();
  const newField = form.getByLabel('New password', { exact: true });
  await page.waitForFunction(() => document.querySelector('form[aria-label="Change password"] [aria-invalid="true"]'));
  assert.equal(await newField.getAttribute('aria-invalid'), 'true', 'the policy error is on the new password');
  await checkA11y(page, 'password change: policy error');
  await screenshots(page, 'account-password-error');

  const next = 'quiet-Heron-77-meadow';
  await form.getByLabel('Current password').fill('not-my-password-9');
  await newField.fill(next);
  await form.getByLabel('New password again').fill(next);
  await form.getByRole('button', { name: 'Change password' }).click();
  await page.waitForFunction(() => document.querySelector('form[aria-label="Change password"] input[autocomplete="current-password"][aria-invalid="true"]'));

  await form.getByLabel('Current password').fill(PW);
  await form.getByRole('button', { name: 'Change password' }).click();
  await page.getByText(/Password changed/).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor(); // this session stays
  await signOut(page);
  await signIn(page, srv, { tenant: 'pwchange', email: t.email, password: PW, expectNav: false });
  await page.getByRole('form', { name: 'Sign in' }).getByRole('alert').waitFor();
  await signIn(page, srv, { tenant: 'pwchange', email: t.email, password: next });
  watcher.assertClean();
  await context.close();
});

test('password reset from the mailed link: forgot-password form, the link, a new password, sign in with it', async () => {
  const t = await createTenant(srv, 'resetme', { name: 'Reset Me' });
  const { context, page, watcher } = await openPage(browser);
  await page.goto(`${srv.url}/console/`);
  await page.getByRole('link', { name: 'Forgotten your password?' }).click();
  const ask = page.getByRole('form', { name: 'Forgotten password' });
  await ask.waitFor();
  assert.equal(new URL(page.url()).pathname, '/console/forgot-password');
  await checkA11y(page, 'reset: request');
  await screenshots(page, 'reset-request');
  const since = mailbox.mails.length;
  await ask.getByLabel('Organisation').fill('resetme');
  await ask.getByLabel('E-mail').fill(t.email);
  await ask.getByRole('button', { name: 'Send the link' }).click();
  await page.getByText(/a mail with a link to choose a new password/).waitFor();
  await checkA11y(page, 'reset: requested');

  const link = await mailedLink(t.email, since, '/reset');
  await page.goto(link);
  const choose = page.getByRole('form', { name: 'New password' });
  await choose.waitFor();
  await checkA11y(page, 'reset: new password');
  await screenshots(page, 'reset-new-password');
  await choose.getByLabel('New password', { exact: true }).fill('resetme');
  await choose.getByLabel('New password again').fill('resetme');
  await choose.getByRole('button', { name: 'Set the password' }).click();
  await page.waitForFunction(() => document.querySelector('form[aria-label="New password"] [aria-invalid="true"]'));
  await checkA11y(page, 'reset: policy error');

  const next = 'amber-Falcon-31-harbour';
  await choose.getByLabel('New password', { exact: true }).fill(next);
  await choose.getByLabel('New password again').fill(next);
  await choose.getByRole('button', { name: 'Set the password' }).click();
  await page.getByText(/Your password is changed/).waitFor();
  await checkA11y(page, 'reset: done');
  await page.getByRole('link', { name: 'Sign in with the new password' }).click();
  await signIn(page, srv, { tenant: 'resetme', email: t.email, password: next });

  // the link works once
  await page.goto(link);
  await choose.getByLabel('New password', { exact: true }).fill('another-Otter-55-river');
  await choose.getByLabel('New password again').fill('another-Otter-55-river');
  await choose.getByRole('button', { name: 'Set the password' }).click();
  await page.getByRole('link', { name: 'Ask for a new link' }).waitFor();
  watcher.assertClean();
  await context.close();
});

test('registration confirmed from the mailed link: the password chosen there, signed in', async () => {
  await operator(srv).post('/api/v1/tenants', {
    slug: 'openreg', name: 'Open Reg', allow_registration: true, registration_requires_confirmation: true,
  });
  const since = mailbox.mails.length;
  await new CairnClient({ baseUrl: srv.url }).post('/api/v1/auth/register', { tenant: 'openreg', email: 'new@openreg.test' });
  const link = await mailedLink('new@openreg.test', since, '/register/confirm');
  const { context, page, watcher } = await openPage(browser);
  await page.goto(link);
  const form = page.getByRole('form', { name: 'Confirm registration' });
  await form.waitFor();
  await checkA11y(page, 'register: confirm');
  await screenshots(page, 'register-confirm');
  await form.getByLabel('Password').fill('short');
  await form.getByRole('button', { name: 'Confirm' }).click();
  await page.waitForFunction(() => document.querySelector('form[aria-label="Confirm registration"] [aria-invalid="true"]'));
  await checkA11y(page, 'register: policy error');
  await form.getByLabel('Password').fill('sunny-Badger-82-valley');
  await form.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('header').textContent(), /Open Reg/);
  assert.equal(new URL(page.url()).pathname, '/console/');
  watcher.assertClean();
  await context.close();
});

test('tenant switcher: the second tenant\'s data and none of the first\'s; the code asked for where required', async () => {
  const north = await createTenant(srv, 'north', { name: 'North Ltd', email: 'sam@multi.test' });
  await operator(srv).post('/api/v1/tenants', { slug: 'south', name: 'South GmbH', owner_email: 'sam@multi.test' });
  const south = new CairnClient({ baseUrl: srv.url });
  await south.login({ tenant: 'south', email: 'sam@multi.test', password: PW });
  await north.api.notes.create({ title: 'north-only secret', body: 'North numbers' });
  await south.notes.create({ title: 'south plan', body: 'South numbers' });

  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'north', email: 'sam@multi.test' });
  await page.getByText('north-only secret').waitFor();
  await openMenu(page);
  const southButton = page.getByRole('button', { name: /South GmbH/ });
  await southButton.waitFor();
  await checkA11y(page, 'account menu with the tenant switcher');
  await screenshots(page, 'account-menu-switcher');
  await page.goto(`${srv.url}/console/account`); // a page of the old tenant's session
  await page.getByText('North Ltd').first().waitFor();
  await openMenu(page);
  await page.getByRole('button', { name: /South GmbH/ }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/console/', 'back to the overview');
  await page.getByText('south plan').waitFor();
  assert.match(await page.locator('header').textContent(), /South GmbH/);
  assert.doesNotMatch(await page.locator('body').textContent(), /north-only secret|North Ltd/, 'nothing of the first tenant');
  // the live updates are the new tenant's: a north note made now never shows, a south one does
  await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 10_000 });
  await north.api.notes.create({ title: 'north after the switch', body: 'must not show' });
  await south.notes.create({ title: 'south live', body: 'arrives by realtime' });
  await page.getByRole('cell', { name: 'south live' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByText('north after the switch').count(), 0);
  await page.goto(`${srv.url}/console/account`);
  await page.locator('li[aria-current="true"]', { hasText: 'South GmbH' }).waitFor();
  await checkA11y(page, 'profile after a switch');
  await screenshots(page, 'account-profile');

  // a tenant requiring a second factor of owners, the account enrolled meanwhile: the code
  await operator(srv).post('/api/v1/tenants', { slug: 'east', name: 'East AB', owner_email: 'sam@multi.test', mfa_required_for_admins: true });
  const enrol = await south.post('/api/v1/auth/mfa/enroll');
  const key = base32Decode(enrol.secret);
  await south.post('/api/v1/auth/mfa/confirm', { code: totp(key, Date.now() - 30_000) });
  await openMenu(page);
  await page.getByRole('button', { name: /East AB/ }).click();
  const step = page.getByRole('form', { name: 'Two-step verification' });
  await step.waitFor();
  await page.getByText(/asks for two-step verification/).waitFor();
  assert.doesNotMatch(await page.locator('body').textContent(), /south plan|South GmbH/, 'nothing of the tenant left');
  await checkA11y(page, 'switch: the MFA step');
  await screenshots(page, 'switch-mfa-step');
  await step.getByLabel('Code from your authenticator app').fill(totp(key));
  await step.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('header').textContent(), /East AB/);
  assert.doesNotMatch(await page.locator('body').textContent(), /south plan|south live|north-only secret|north after/);
  watcher.assertClean();
  await context.close();
});

test('sign out everywhere ends another browser\'s session too', async () => {
  const t = await createTenant(srv, 'everywhere', { name: 'Everywhere Ltd' });
  const a = await openPage(browser);
  const b = await openPage(browser);
  await signIn(a.page, srv, { tenant: 'everywhere', email: t.email });
  await signIn(b.page, srv, { tenant: 'everywhere', email: t.email });
  await a.page.goto(`${srv.url}/console/account/security`);
  await a.page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await a.page.getByRole('form', { name: 'Sign in' }).waitFor();
  await b.page.reload();
  await b.page.getByRole('form', { name: 'Sign in' }).waitFor();
  assert.equal(await b.page.getByRole('navigation', { name: 'Sections' }).count(), 0, 'the other browser is signed out');
  a.watcher.assertClean();
  b.watcher.assertClean();
  await a.context.close();
  await b.context.close();
});

test('your data: the export downloads; deleting the account needs its e-mail typed, then it is gone', async () => {
  const t = await createTenant(srv, 'gdpr', { name: 'GDPR Ltd' });
  await t.api.post('/api/v1/users', { email: 'mia@gdpr.test', role: 'member', password: 'brisk-Pelican-19-canyon' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'gdpr', email: 'mia@gdpr.test', password: 'brisk-Pelican-19-canyon' });
  await page.goto(`${srv.url}/console/account`);
  await page.getByText('mia@gdpr.test').first().waitFor();
  await checkA11y(page, 'profile');
  await page.goto(`${srv.url}/console/account/data`);
  await page.getByRole('heading', { name: 'Your data', level: 1 }).waitFor();
  await checkA11y(page, 'your data');
  await screenshots(page, 'account-data');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download my data' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'cairn-my-data.json');
  const exported = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.match(JSON.stringify(exported), /mia@gdpr\.test/);

  await page.getByRole('button', { name: 'Delete my account…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
  await dialog.waitFor();
  const confirm = dialog.getByRole('button', { name: 'Delete my account' });
  assert.equal(await confirm.isDisabled(), true);
  await checkA11y(page, 'delete account dialog');
  await screenshots(page, 'account-delete-dialog');
  await dialog.getByLabel('Your e-mail address').fill('mia@gdpr.test');
  await confirm.click();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  await signIn(page, srv, { tenant: 'gdpr', email: 'mia@gdpr.test', password: 'brisk-Pelican-19-canyon', expectNav: false });
  await page.getByRole('form', { name: 'Sign in' }).getByRole('alert').waitFor();
  watcher.assertClean();
  await context.close();
});

test('phone width: profile, security with the QR code, reset and registration pages fit 390 px', async () => {
  const t = await createTenant(srv, 'phone', { name: 'Phone Ltd' });
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await page.goto(`${srv.url}/console/reset`);
  await page.getByRole('form', { name: 'Forgotten password' }).waitFor();
  await assertFits(page);
  await screenshots(page, 'reset-request-phone');
  await page.goto(`${srv.url}/console/register/confirm?token=nothing`);
  await page.getByRole('form', { name: 'Confirm registration' }).waitFor();
  await assertFits(page);
  await signIn(page, srv, { tenant: 'phone', email: t.email });
  await page.goto(`${srv.url}/console/account`);
  await page.getByText(t.email).first().waitFor();
  await assertFits(page);
  await checkA11y(page, 'profile at 390 px');
  await screenshots(page, 'account-profile-phone');
  await page.goto(`${srv.url}/console/account/security`);
  await page.getByRole('button', { name: 'Set up two-step verification' }).click();
  await page.getByRole('img', { name: /QR code/ }).waitFor();
  await assertFits(page);
  await checkA11y(page, 'MFA enrolment at 390 px');
  await screenshots(page, 'account-mfa-scan-phone');
  await openMenu(page);
  await assertFits(page);
  watcher.assertClean();
  await context.close();
});
