// The console's sign-in in chromium against the real binary: a wrong password's message,
// the overview, a reload keeping the session, sign-out; the MFA step (shown only when the
// server asks) with a TOTP code and with a recovery code; signing out and in as another
// organisation in the same tab showing none of the first one's data; a session ended
// elsewhere asking to sign in again over the page without losing typed input; phone width.
// axe runs on every state, screenshots go to test-output/console/.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import {
  PW, checkA11y, createTenant, enrolMfa, launch, openPage, screenshots, signIn, signOut, startConsoleServer,
} from './lib/console.mjs';

let srv;
let browser;
let alpha;
let beta;

before(async () => {
  srv = await startConsoleServer();
  browser = await launch();
  alpha = await createTenant(srv, 'alpha', { name: 'Alpha Ltd' });
  beta = await createTenant(srv, 'beta', { name: 'Beta GmbH' });
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

test('sign in: a wrong password says so; the overview; a reload keeps the session; sign out', async () => {
  const { context, page, watcher } = await openPage(browser);
  await page.goto(`${srv.url}/console/`);
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.waitFor();
  await checkA11y(page, 'sign-in');
  await screenshots(page, 'signin');

  await signIn(page, srv, { tenant: 'alpha', email: alpha.email, password: 'not-the-password-1', expectNav: false });
  assert.equal(await form.getByRole('alert').textContent(), 'The tenant, e-mail or password is wrong.');
  assert.equal(await form.getByLabel('Password').inputValue(), '', 'the wrong password is cleared');
  assert.equal(await page.getByLabel(/code/i).count(), 0, 'no code field without MFA');
  await checkA11y(page, 'sign-in with an error');
  await screenshots(page, 'signin-error');

  await signIn(page, srv, { tenant: 'alpha', email: alpha.email });
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('header').textContent(), /Alpha Ltd/);
  await page.getByRole('heading', { name: 'No notes yet' }).waitFor();
  await checkA11y(page, 'overview');
  await screenshots(page, 'overview');

  await page.reload();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(await page.getByRole('form', { name: 'Sign in' }).count(), 0, 'the session survived the reload');

  await page.goto(`${srv.url}/console/no/such/page`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await checkA11y(page, 'not found');

  await signOut(page);
  await page.reload();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Sections' }).count(), 0, 'signed out for good');
  watcher.assertClean();
  await context.close();
});

test('MFA: the code field shows only when asked; a TOTP code, then a recovery code, sign in', async () => {
  const gamma = await createTenant(srv, 'gamma', { name: 'Gamma SA' });
  const mfa = await enrolMfa(gamma);
  const { context, page, watcher } = await openPage(browser);
  await page.goto(`${srv.url}/console/`);
  assert.equal(await page.getByLabel('Code from your authenticator app').count(), 0);

  await signIn(page, srv, { tenant: 'gamma', email: gamma.email, expectNav: false });
  const step = page.getByRole('form', { name: 'Two-step verification' });
  await step.getByLabel('Code from your authenticator app').waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0, 'the password step is gone');
  await checkA11y(page, 'MFA step');
  await screenshots(page, 'signin-mfa');
  const wrong = mfa.code() === '000000' ? '111111' : '000000';
  await step.getByLabel('Code from your authenticator app').fill(wrong);
  await step.getByRole('button', { name: 'Verify' }).click();
  // one attempt per challenge: back to the password, with the reason
  const again = page.getByRole('form', { name: 'Sign in' });
  assert.equal(await again.getByRole('alert').textContent(), 'The code is wrong. Enter your password again.');
  assert.equal(await again.getByLabel('E-mail').inputValue(), gamma.email);
  await checkA11y(page, 'sign-in after a refused code');
  await again.getByLabel('Password').fill(PW);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await step.getByLabel('Code from your authenticator app').fill(mfa.code());
  await step.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.match(await page.locator('header').textContent(), /Gamma SA/);
  await signOut(page);

  await signIn(page, srv, { tenant: 'gamma', email: gamma.email, recoveryCode: mfa.recoveryCodes[0] });
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await checkA11y(page, 'overview after a recovery code');
  watcher.assertClean();
  await context.close();
});

test("signing out and in as another organisation in the same tab shows none of the first one's data", async () => {
  await alpha.api.notes.create({ title: 'alpha-only plan', body: 'quarterly numbers of Alpha' });
  await beta.api.notes.create({ title: 'beta note', body: 'Beta text' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'alpha', email: alpha.email });
  await page.getByRole('cell', { name: 'alpha-only plan' }).waitFor();

  await signOut(page);
  await signIn(page, srv, { tenant: 'beta', email: beta.email });
  await page.getByRole('cell', { name: 'beta note' }).waitFor();
  const text = await page.locator('body').innerText();
  for (const leaked of ['alpha-only plan', 'quarterly numbers', 'Alpha Ltd', alpha.email])
    assert.ok(!text.includes(leaked), `"${leaked}" of the first organisation is not shown`);

  // the new session's live updates are the new tenant's
  await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 10_000 });
  await beta.api.notes.create({ title: 'beta live', body: 'arrives by realtime' });
  await page.getByRole('cell', { name: 'beta live' }).waitFor({ timeout: 10_000 });
  assert.ok(!(await page.locator('body').innerText()).includes('alpha-only plan'));
  watcher.assertClean();
  await context.close();
});

test('a session ended elsewhere: sign in again over the page, typed input kept, then it goes on', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'alpha', email: alpha.email });
  const title = page.getByRole('textbox', { name: 'Title' });
  await title.fill('typed before the session ended');
  await page.getByRole('textbox', { name: 'Text' }).fill('and kept');

  await alpha.api.logoutAll(); // every session of the account ends, this page's too
  await alpha.api.login({ tenant: 'alpha', email: alpha.email, password: PW });
  const dialog = page.getByRole('dialog', { name: 'Your session has ended' });
  await dialog.waitFor({ timeout: 15_000 });
  assert.equal(await title.inputValue(), 'typed before the session ended', 'the page under the dialog keeps its input');
  assert.equal(await dialog.getByLabel('E-mail').inputValue(), alpha.email);
  await checkA11y(page, 'session-expiry dialog');
  await screenshots(page, 'session-expired');

  await dialog.getByLabel('Password').fill(PW);
  await dialog.getByRole('button', { name: 'Sign in' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Save note' }).click();
  await page.getByRole('cell', { name: 'typed before the session ended' }).waitFor();
  const saved = await waitFor(async () => (await alpha.api.notes.list()).items.find((n) => n.title === 'typed before the session ended'),
    5000, 'the note saved after signing in again');
  assert.equal(saved.body, 'and kept');
  // the realtime connection came back with the new session
  await page.getByRole('status').filter({ hasText: /^Live$/ }).waitFor({ timeout: 10_000 });
  await alpha.api.notes.create({ title: 'after the new sign-in', body: 'live' });
  await page.getByRole('cell', { name: 'after the new sign-in' }).waitFor({ timeout: 10_000 });
  watcher.assertClean();
  await context.close();
});

test('phone width (390 px): no horizontal scrolling, the menu opens the navigation', async () => {
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await page.goto(`${srv.url}/console/`);
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  await screenshots(page, 'signin-phone');
  await signIn(page, srv, { tenant: 'beta', email: beta.email });
  await page.getByRole('cell', { name: 'beta note' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits 390 px (overflows by ${overflow} px)`);
  const nav = page.getByRole('navigation', { name: 'Sections' });
  assert.equal(await nav.getByRole('link', { name: 'Overview' }).isVisible(), false, 'the navigation is folded away');
  await page.getByRole('button', { name: 'Menu' }).click();
  await nav.getByRole('link', { name: 'Overview' }).waitFor();
  await checkA11y(page, 'overview at phone width, menu open');
  await screenshots(page, 'overview-phone');
  watcher.assertClean();
  await context.close();
});
