// Helpers of the console's browser tests: the real binary (tests/e2e/lib/server.mjs),
// tenants with an owner, Debian's chromium through playwright-core, sign-in, axe, screenshots
// in both themes, and a watcher that fails a test on any CSP violation or console error.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { CairnClient } from '../../../sdk/js/index.js';
import { REPO_ROOT, TOKEN, startServer } from '../../e2e/lib/server.mjs';
import { base32Decode, totp } from '../../e2e/lib/totp.mjs';

export const PW = 'vivid-Otter-42-lantern';
export const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output', 'console');

/** Starts the binary on a temporary database; resolves to the server of startServer(). */
export function startConsoleServer(opts = {}) {
  return startServer(opts);
}

/** The operator's SDK client (bootstrap token). */
export function operator(srv) {
  return new CairnClient({ baseUrl: srv.url, token: TOKEN });
}

/**
 * A tenant with its owner: resolves to {slug, name, email, password, api} where api is the
 * owner's signed-in SDK client (token mode) for arranging data.
 */
export async function createTenant(srv, slug, { name = `${slug.toUpperCase()} Ltd`, email = `owner@${slug}.test` } = {}) {
  await operator(srv).post('/api/v1/tenants', { slug, name, owner_email: email, owner_password: PW });
  const api = new CairnClient({ baseUrl: srv.url });
  await api.login({ tenant: slug, email, password: PW });
  return { slug, name, email, password: PW, api };
}

/** Enrols the owner of `tenant` in TOTP MFA; resolves to {secret (bytes), recoveryCodes}. */
export async function enrolMfa(tenant) {
  const enrol = await tenant.api.post('/api/v1/auth/mfa/enroll');
  const secret = base32Decode(enrol.secret);
  // the previous step's code: the current one stays unused for the sign-in that follows
  const conf = await tenant.api.post('/api/v1/auth/mfa/confirm', { code: totp(secret, Date.now() - 30_000) });
  return { secret, recoveryCodes: conf.recovery_codes, code: (at) => totp(secret, at) };
}

export function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}

// A failed fetch the page expected (a 401 probe of the session, a wrong password, a 403 or
// 404 a page shows): chromium logs it as a console error, but the app handled it.
function expectedApiFailure(msg) {
  return /^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) &&
    /\/api\/v1\//.test(msg.location()?.url ?? '');
}

/**
 * Watches a page for CSP violations (reported by the page itself, so none is missed before a
 * listener is attached), console errors and uncaught exceptions. assertClean() fails on any.
 */
export async function watchPage(page) {
  const problems = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !expectedApiFailure(m)) problems.push(`console error: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  return {
    problems,
    assertClean() {
      assert.deepEqual(problems, [], 'no CSP violation, console error or uncaught exception');
    },
  };
}

/**
 * A fresh browser context (no cookies) and page at `width` x `height`, watched; resolves to
 * {context, page, watcher}. Close the context at the end of the test.
 */
export async function openPage(browser, { width = 1280, height = 800, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  const watcher = await watchPage(page);
  return { context, page, watcher };
}

/**
 * Signs in through the sign-in form at `${srv.url}/console/` (navigating there unless the
 * form is already shown). With `totp` (a function returning a code) or `recoveryCode`, the
 * MFA step is expected and completed. Resolves once the console's header shows.
 */
export async function signIn(page, srv, { tenant, email, password = PW, totp: code, recoveryCode, expectNav = true }) {
  if (!(await page.getByRole('form', { name: 'Sign in' }).isVisible().catch(() => false))) {
    await page.goto(`${srv.url}/console/`);
  }
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Organisation').fill(tenant);
  await form.getByLabel('E-mail').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  if (code || recoveryCode) {
    const mfa = page.getByRole('form', { name: 'Two-step verification' });
    if (recoveryCode) {
      await mfa.getByRole('button', { name: 'Use a recovery code' }).click();
      await mfa.getByLabel('Recovery code').fill(recoveryCode);
    } else {
      await mfa.getByLabel('Code from your authenticator app').fill(typeof code === 'function' ? code() : code);
    }
    await mfa.getByRole('button', { name: 'Verify' }).click();
  }
  if (expectNav) await page.getByRole('button', { name: /^Account/ }).waitFor({ timeout: 15_000 });
}

/** Signs out through the account menu; resolves once the sign-in form shows. */
export async function signOut(page) {
  await page.getByRole('button', { name: /^Account/ }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
}

/**
 * Runs axe on the page as it is, in the light and the dark theme (contrast differs), and
 * fails on any serious or critical violation. `label` names the page and state.
 */
export async function checkA11y(page, label) {
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    const r = await new AxeBuilder({ page }).analyze();
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
      `axe on ${label} (${colorScheme})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Full-page screenshots in light and dark: test-output/console/<name>-light.png, -dark.png. */
export async function screenshots(page, name) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: path.join(OUTPUT_DIR, `${name}-${colorScheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
