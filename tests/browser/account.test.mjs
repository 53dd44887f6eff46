// The account page in chromium against the real binary: two-step verification turned on
// in the console (QR code, the code from the key it shows, recovery codes shown once), then
// a sign-in asking for the code; a password change refused with the server's reason on
// the field, then accepted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stopAllServers } from '../e2e/lib/server.mjs';
import { base32Decode, totp } from '../e2e/lib/totp.mjs';
import { PW, checkA11y, createTenant, launch, openPage, screenshots, signIn, signOut, startConsoleServer } from './lib/console.mjs';

let srv;
let browser;

before(async () => {
  srv = await startConsoleServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

test('MFA enrolment in the console: QR code and key, a code turns it on, recovery codes; the next sign-in asks for a code', async () => {
  const epsilon = await createTenant(srv, 'epsilon', { name: 'Epsilon Oy' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'epsilon', email: epsilon.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Your account' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await checkA11y(page, 'account');
  await screenshots(page, 'account');

  await page.getByRole('button', { name: 'Set up two-step verification' }).click();
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const secret = base32Decode((await page.locator('code.secret').textContent()).trim());
  await checkA11y(page, 'MFA enrolment');
  await screenshots(page, 'account-mfa-enrol');
  const confirm = page.getByRole('form', { name: 'Confirm two-step verification' });
  await confirm.getByLabel('Code from your authenticator app').fill(totp(secret, Date.now() - 30_000));
  await confirm.getByRole('button', { name: 'Turn on' }).click();
  const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  await checkA11y(page, 'recovery codes');
  await screenshots(page, 'account-recovery-codes');

  await signOut(page);
  await signIn(page, srv, { tenant: 'epsilon', email: epsilon.email, totp: () => totp(secret) });
  await page.goto(`${srv.url}/console/account`);
  await page.getByText('On: signing in asks for a code').waitFor();
  watcher.assertClean();
  await context.close();
});

test('password change: the policy refuses a weak one on its field; a good one keeps this session', async () => {
  const zeta = await createTenant(srv, 'zeta', { name: 'Zeta SpA' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'zeta', email: zeta.email });
  await page.goto(`${srv.url}/console/account`);
  const form = page.getByRole('form', { name: 'Password' });
  await form.getByLabel('Current password').fill(PW);
  await form.getByLabel('New password', { exact: true }).fill('password1234');
  await form.getByLabel('New password again').fill('password1234');
  await form.getByRole('button', { name: 'Change the password' }).click();
  await form.locator('.field-error').first().waitFor();
  assert.equal(await form.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
  await checkA11y(page, 'password refused');

  await form.getByLabel('New password', { exact: true }).fill('gentle-Lynx-64-orchard');
  await form.getByLabel('New password again').fill('gentle-Lynx-64-orchard');
  await form.getByRole('button', { name: 'Change the password' }).click();
  await page.getByText('Password changed; your other sessions have ended').waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Your account' }).waitFor(); // still signed in
  await signOut(page);
  await signIn(page, srv, { tenant: 'zeta', email: zeta.email, password: 'gentle-Lynx-64-orchard' });
  watcher.assertClean();
  await context.close();
});
