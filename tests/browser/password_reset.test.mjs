// A forgotten password in the console, against the real binary and a real SMTP server on
// loopback: ask for the link, open it, choose a new password (the policy's message shown on
// the field), sign in with it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startMailbox } from '../e2e/lib/mailbox.mjs';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import { checkA11y, createTenant, launch, openPage, screenshots, signIn, startConsoleServer } from './lib/console.mjs';

const NEW_PW = 'gentle-Lynx-64-orchard';
let srv;
let browser;
let mailbox;
let delta;

before(async () => {
  mailbox = await startMailbox();
  srv = await startConsoleServer({
    env: {
      CAIRN_MAIL_SMTP_URL: mailbox.url, CAIRN_MAIL_FROM: 'noreply@cairn.test', CAIRN_JOBS_POLL_MS: '50',
      // the server's own address is known only once it listens: the test opens the link's token itself
      CAIRN_RESET_URL: 'https://console.example/console/reset-password',
    },
  });
  browser = await launch();
  delta = await createTenant(srv, 'delta', { name: 'Delta AB' });
});

after(async () => {
  await browser?.close();
  await stopAllServers();
  mailbox?.close();
});

test('forgotten password: the mailed link sets a new one, and it signs in', async () => {
  const { context, page, watcher } = await openPage(browser);
  await page.goto(`${srv.url}/console/`);
  await page.getByRole('link', { name: 'Forgotten your password?' }).click();
  const ask = page.getByRole('form', { name: 'Forgotten password' });
  await ask.getByLabel('Organisation').fill('delta');
  await ask.getByLabel('E-mail').fill(delta.email);
  await checkA11y(page, 'forgotten password');
  await ask.getByRole('button', { name: 'Send the link' }).click();
  await page.getByText(/a link to choose a new password is on its way/).waitFor();

  const mail = await waitFor(() => mailbox.mails.find((m) => m.to.includes(delta.email)), 10_000, 'the reset mail');
  const link = /https:\/\/console\.example(\/console\/reset-password\?token=[A-Za-z0-9_-]+)/.exec(mail.raw);
  assert.ok(link, 'the mail links to the console page');
  await page.goto(`${srv.url}${link[1]}`);
  const form = page.getByRole('form', { name: 'New password' });
  await form.getByLabel('New password', { exact: true }).fill('password1234');
  await form.getByLabel('New password again').fill('password1234');
  await form.getByRole('button', { name: 'Set the password' }).click();
  // the server's policy, on the field
  await form.locator('.field-error').first().waitFor();
  assert.equal(await form.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
  await checkA11y(page, 'new password refused');
  await screenshots(page, 'reset-password');

  await form.getByLabel('New password', { exact: true }).fill(NEW_PW);
  await form.getByLabel('New password again').fill(NEW_PW);
  await form.getByRole('button', { name: 'Set the password' }).click();
  await page.getByRole('link', { name: 'Sign in with the new password' }).click();
  await signIn(page, srv, { tenant: 'delta', email: delta.email, password: NEW_PW });
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  watcher.assertClean();
  await context.close();
});
