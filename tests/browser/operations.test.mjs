// The console's operations pages in chromium against the real binary: the audit log lists an
// action done through the API, a filter by action narrows it and survives a reload, an
// entry's details, the chain verified intact; a dead job (a note deleted before its analysis
// ran) retried from the dead letters, and its page; tenant settings (time zone, MFA policy)
// saved and confirmed by the API; system health with readiness and a request rate; a member
// gets the "not allowed" page; phone width. axe on every page and state, screenshots in both
// themes into test-output/console/.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CairnClient } from '../../sdk/js/index.js';
import { runProgram, stopAllServers, tempDir, waitFor } from '../e2e/lib/server.mjs';
import path from 'node:path';
import {
  PW, checkA11y, createTenant, enrolMfa, launch, openPage, operator, screenshots, signIn, startConsoleServer,
} from './lib/console.mjs';

// fast retries, so a job dies within a second; workers look for due jobs every 100 ms
const FAST = { CAIRN_JOBS_BACKOFF_MS: '50', CAIRN_JOBS_BACKOFF_MAX_MS: '200', CAIRN_JOBS_POLL_MS: '100' };
const ADMIN = 'admin@ops.test';
const MEMBER = 'member@ops.test';

let srv;
let browser;
let owner; // {slug, email, api, ...} of createTenant, api re-signed in after the restart
let mfa;
let admin; // the admin's SDK client (token mode)
let deadJob;
let tenantId;
let dataDir;

async function client(tenant, email) {
  const c = new CairnClient({ baseUrl: srv.url });
  await c.login({ tenant, email, password: PW });
  return c;
}

before(async () => {
  // a dead job: its note is deleted while no worker runs, then workers fail it three times
  dataDir = tempDir('cairn-browser-ops-');
  srv = await startConsoleServer({ dataDir, env: { ...FAST, CAIRN_JOBS_WORKERS: '0' } });
  owner = await createTenant(srv, 'ops', { name: 'Ops Ltd' });
  await owner.api.post('/api/v1/users', { email: ADMIN, role: 'admin', password: PW });
  await owner.api.post('/api/v1/users', { email: MEMBER, role: 'member', password: PW });
  const note = await owner.api.notes.create({ title: 'short-lived', body: 'gone before its analysis' });
  deadJob = (await owner.api.post(`/api/v1/notes/${note.id}/analyse`)).job_id;
  await owner.api.delete(`/api/v1/notes/${note.id}`);
  mfa = await enrolMfa(owner);
  await srv.stop();

  srv = await startConsoleServer({ dataDir, env: FAST });
  browser = await launch();
  admin = await client('ops', ADMIN);
  tenantId = (await admin.get('/api/v1/tenant')).id;
  await waitFor(async () => (await admin.get(`/api/v1/jobs/${deadJob}`)).state === 'dead', 15_000, 'the job to die');
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

const noOverflow = async (page) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits the width (overflows by ${overflow} px)`);
};

test('audit log: an action done through the API, filtered by action (kept over a reload), details, chain intact', async () => {
  const note = await admin.notes.create({ title: 'audited note', body: 'x' });
  const entries = (await admin.get('/api/v1/audit', { query: { limit: 200 } })).items;
  const created = entries.find((e) => e.object === note.id || (e.action.startsWith('POST ') && e.action.endsWith('/notes')));
  assert.ok(created, 'the API audited the note');
  const action = created.action;
  assert.ok(entries.some((e) => e.action !== action), 'other actions are listed too');

  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: ADMIN });
  await page.goto(`${srv.url}/console/operations`); // the section's base opens its first page
  await page.waitForURL(/\/console\/operations\/audit$/);
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await nav.getByRole('link', { name: 'Jobs' }).click();
  await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
  await nav.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  const table = page.getByRole('table', { name: 'Audit entries' });
  await table.getByRole('cell', { name: action, exact: true }).first().waitFor();
  await table.getByRole('cell', { name: 'auth.login', exact: true }).first().waitFor();
  const verify = page.getByRole('region', { name: 'Chain verification' });
  await verify.getByText('Intact').waitFor({ timeout: 15_000 });
  assert.match(await verify.innerText(), /Checked /);
  await checkA11y(page, 'audit log');
  await screenshots(page, 'operations-audit');

  // verify again on request: the server checks the chain again
  const again = page.waitForResponse((r) => r.url().endsWith('/api/v1/audit/verify') && r.status() === 200);
  await verify.getByRole('button', { name: 'Verify now' }).click();
  await again;
  await verify.getByText('Intact').waitFor();

  // filter by the action: only its entries remain, in the address too
  const filters = page.getByRole('form', { name: 'Filter the audit log' });
  await filters.getByLabel('Action').fill(action);
  await filters.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL((u) => new URL(u).searchParams.get('action') === action);
  const onlyAction = async () => {
    const cells = await table.locator('tbody tr td:nth-child(2)').allInnerTexts();
    return cells.length > 0 && cells.every((c) => c === action) && cells;
  };
  await waitFor(onlyAction, 10_000, 'the filtered list');
  await page.reload();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  assert.equal(await page.getByRole('form', { name: 'Filter the audit log' }).getByLabel('Action').inputValue(), action, 'the filter survived the reload');
  await waitFor(onlyAction, 10_000, 'the filtered list after the reload');
  await checkA11y(page, 'audit log filtered');
  await screenshots(page, 'operations-audit-filtered');

  // an entry's details
  await table.getByRole('button', { name: /^Details of entry/ }).first().click();
  const dialog = page.getByRole('dialog', { name: /^Audit entry/ });
  await dialog.waitFor();
  const details = await dialog.innerText();
  assert.ok(details.includes(action) && details.includes(ADMIN) && /Request id/.test(details), details);
  await checkA11y(page, 'audit entry details');
  await screenshots(page, 'operations-audit-details');
  await dialog.getByRole('button', { name: 'Only this actor' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.waitForURL((u) => new URL(u).searchParams.has('actor') && new URL(u).searchParams.get('action') === action);
  await waitFor(async () => {
    const actors = await table.locator('tbody tr td:nth-child(3)').allInnerTexts();
    return actors.length > 0 && actors.every((a) => a === ADMIN);
  }, 10_000, 'the entries of the admin only');
  assert.equal(await filters.getByLabel('Actor').inputValue(), created.actor, 'the actor filter shows the member');

  // a filter matching nothing says what to do
  await page.goto(`${srv.url}/console/operations/audit?action=${encodeURIComponent('DELETE /api/v1/nothing')}`);
  await page.getByRole('heading', { name: 'No entry matches these filters' }).waitFor();
  await checkA11y(page, 'audit log, nothing matches');
  await page.getByRole('button', { name: 'Clear the filters' }).click();
  await table.getByRole('cell', { name: 'auth.login', exact: true }).first().waitFor();
  assert.equal(new URL(page.url()).search, '');
  watcher.assertClean();
  await context.close();
});

test('jobs: counts by state, a dead letter retried from the page, its page with attempts and error', async () => {
  const before = await admin.get(`/api/v1/jobs/${deadJob}`);
  assert.equal(before.state, 'dead');
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: ADMIN });
  await page.goto(`${srv.url}/console/operations/jobs`);
  const tiles = page.getByRole('list', { name: 'Jobs by state' });
  await tiles.getByRole('button', { name: /Dead letters\s*1/ }).waitFor();
  const dead = page.getByRole('region', { name: 'Dead letters' });
  await dead.getByText(/no longer exists/).waitFor();
  await checkA11y(page, 'jobs with a dead letter');
  await screenshots(page, 'operations-jobs');

  // the tile filters the list by its state, in the address
  await tiles.getByRole('button', { name: /Dead letters/ }).click();
  await page.waitForURL((u) => new URL(u).searchParams.get('state') === 'dead');
  await page.getByRole('table', { name: 'Jobs: dead letters' }).getByRole('link', { name: 'notes.analyse' }).waitFor();

  await dead.getByRole('button', { name: /^Retry notes\.analyse/ }).click();
  await page.getByText('notes.analyse queued again').waitFor();
  const after = await waitFor(async () => {
    const j = await admin.get(`/api/v1/jobs/${deadJob}`);
    return j.updated_at > before.updated_at && j;
  }, 15_000, 'the retried job to run again');
  assert.ok(after.attempts >= 1);
  const audit = (await admin.get('/api/v1/audit', { query: { limit: 50 } })).items;
  assert.ok(audit.some((e) => e.action.includes('/retry') && e.status === 200), 'the retry was the API\'s');

  // its page: state, attempts, last error, payload (it dies again: its note is gone)
  await waitFor(async () => (await admin.get(`/api/v1/jobs/${deadJob}`)).state === 'dead', 15_000, 'dead again');
  await page.goto(`${srv.url}/console/operations/jobs/${deadJob}`);
  await page.getByText('Attempts: 3 of 3').waitFor({ timeout: 10_000 });
  await page.getByRole('region', { name: 'Last error' }).getByText(/no longer exists/).waitFor();
  assert.match(await page.getByRole('region', { name: 'Payload' }).innerText(), /note_id/);
  await checkA11y(page, 'a dead job');
  await screenshots(page, 'operations-job');

  // an import's job reports its progress: rows done and failed
  const csv = 'customer_id,timestamp,channel,event_type,content\n' +
    `${randomUUID()},2026-11-01T10:00:00Z,web,message,all good\n${randomUUID()},2026-11-01T11:00:00Z,email,message,fine too\n` +
    `${randomUUID()},not a time,web,message,bad row\n`;
  const { job_id: importJob } = await admin.insights.importCsv(csv);
  await page.goto(`${srv.url}/console/operations/jobs/${importJob}`);
  const progress = page.getByRole('region', { name: 'Progress' });
  await page.getByRole('region', { name: 'State' }).getByText('Done', { exact: true }).waitFor({ timeout: 15_000 });
  await waitFor(async () => /Rows done\s*2\b/.test(await progress.innerText()) && /Rows failed\s*1\b/.test(await progress.innerText()),
    10_000, 'the progress of the import');
  await checkA11y(page, 'a done import job');
  await screenshots(page, 'operations-job-import');
  watcher.assertClean();
  await context.close();
});

test('settings: the time zone and the MFA policy are saved, and the API says so', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: owner.email, totp: () => mfa.code() });
  await page.goto(`${srv.url}/console/operations/settings`);
  const tz = page.getByRole('form', { name: 'Time zone of reports' });
  await tz.getByLabel('Time zone', { exact: true }).waitFor();
  await checkA11y(page, 'settings');
  await screenshots(page, 'operations-settings');

  await tz.getByLabel('Search time zones').fill('Tokyo');
  await tz.getByLabel('Time zone', { exact: true }).selectOption('Asia/Tokyo');
  await tz.getByRole('button', { name: 'Save time zone' }).click();
  await tz.getByText(/^Saved at /).waitFor();
  assert.equal((await admin.get('/api/v1/insights/settings')).timezone, 'Asia/Tokyo');

  const org = page.getByRole('form', { name: 'Organisation and sign-in' });
  await org.getByLabel('Name').fill('');
  await org.getByRole('button', { name: 'Save settings' }).click();
  await org.getByText('Give the organisation a name').waitFor();
  await checkA11y(page, 'settings with an error');
  await org.getByLabel('Name').fill('Ops Ltd');
  await org.getByLabel('Owners and admins must sign in with a second factor').check();
  await org.getByRole('button', { name: 'Save settings' }).click();
  await org.getByText(/^Saved at /).waitFor();
  await checkA11y(page, 'settings saved');
  await screenshots(page, 'operations-settings-saved');
  assert.equal((await operator(srv).get(`/api/v1/tenants/${tenantId}`)).mfa_required_for_admins, true);
  // the policy holds: the admin's session without a second factor is refused
  await assert.rejects(admin.get('/api/v1/jobs'), (e) => e.status === 403);

  await page.reload();
  await org.getByLabel('Owners and admins must sign in with a second factor').uncheck();
  await org.getByRole('button', { name: 'Save settings' }).click();
  await org.getByText(/^Saved at /).waitFor();
  assert.equal((await operator(srv).get(`/api/v1/tenants/${tenantId}`)).mfa_required_for_admins, false);
  await admin.get('/api/v1/jobs');
  watcher.assertClean();
  await context.close();
});

test('system health: readiness, version and a request rate, refreshed while shown', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: ADMIN });
  await page.goto(`${srv.url}/console/operations/health`);
  const ready = page.getByRole('region', { name: 'Readiness' });
  await ready.getByText(/migrations applied/).waitFor();
  await ready.getByText(/Version \S+, up /).waitFor();
  assert.match(await ready.innerText(), /Readiness probe \(\/readyz\)\s*✓ OK/);
  const rate = page.getByRole('region', { name: 'Request rate' });
  await waitFor(async () => /\d.*\/s/.test(await rate.innerText()), 10_000, 'a request rate');
  const updated = await page.getByText(/^Updated /).innerText();
  await waitFor(async () => (await page.getByText(/^Updated /).innerText()) !== updated, 15_000, 'a refresh');
  await page.getByRole('img', { name: /^Request rate over the last/ }).waitFor();
  await checkA11y(page, 'system health');
  await screenshots(page, 'operations-health');

  // a hidden tab asks nothing; shown again, the polling resumes
  let asked = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/system/status')) asked++; });
  const setHidden = (hidden) => page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
    Object.defineProperty(document, 'hidden', { value: h, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await setHidden(true);
  await page.getByText('Paused while the tab is hidden').waitFor();
  const whenHidden = asked;
  await new Promise((r) => setTimeout(r, 7000)); // more than two polling intervals
  assert.equal(asked, whenHidden, 'no status asked while the tab is hidden');
  await setHidden(false);
  await waitFor(() => asked > whenHidden, 10_000, 'the polling to resume');
  await page.getByText(/^Updated /).waitFor();
  watcher.assertClean();
  await context.close();
});

test('a member is not allowed: no Operations in the navigation, the pages say so', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: MEMBER });
  const nav = page.getByRole('navigation', { name: 'Sections' });
  assert.equal(await nav.getByRole('link', { name: 'Audit log' }).count(), 0);
  for (const p of ['audit', 'jobs', 'settings', 'health', '']) {
    await page.goto(`${srv.url}/console/operations/${p}`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  }
  await checkA11y(page, 'operations not allowed');
  await screenshots(page, 'operations-forbidden');
  watcher.assertClean();
  await context.close();
});

test('phone width (390 px): the audit log, jobs, settings and health fit', async () => {
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await signIn(page, srv, { tenant: 'ops', email: ADMIN });
  await page.goto(`${srv.url}/console/operations/audit`);
  await page.getByRole('table', { name: 'Audit entries' }).getByRole('cell', { name: 'auth.login', exact: true }).first().waitFor();
  await noOverflow(page);
  await checkA11y(page, 'audit log at phone width');
  await screenshots(page, 'operations-audit-phone');
  await page.goto(`${srv.url}/console/operations/jobs`);
  await page.getByRole('list', { name: 'Jobs by state' }).getByRole('button', { name: /Done/ }).waitFor();
  await page.getByRole('table', { name: 'Jobs' }).waitFor();
  await noOverflow(page);
  await checkA11y(page, 'jobs at phone width');
  await screenshots(page, 'operations-jobs-phone');
  await page.goto(`${srv.url}/console/operations/settings`);
  await page.getByRole('form', { name: 'Time zone of reports' }).getByLabel('Time zone', { exact: true }).waitFor();
  await noOverflow(page);
  await checkA11y(page, 'settings at phone width');
  await screenshots(page, 'operations-settings-phone');
  await page.goto(`${srv.url}/console/operations/health`);
  await page.getByRole('region', { name: 'Readiness' }).getByText(/migrations applied/).waitFor();
  await noOverflow(page);
  await checkA11y(page, 'health at phone width');
  await screenshots(page, 'operations-health-phone');
  watcher.assertClean();
  await context.close();
});

// last: it breaks the audit chain of this server for good
test('a tampered audit entry: the verification says the chain is broken, and at which entry', async () => {
  await admin.notes.create({ title: 'to be tampered with', body: 'its audit entry is changed below' });
  const { items: [latest] } = await admin.get('/api/v1/audit', { query: { limit: 1 } });
  const r = await runProgram('sqlite3', [path.join(dataDir, 'cairn.db'), `UPDATE audit_log SET status = 599 WHERE seq = ${latest.seq}`]);
  assert.equal(r.code, 0, r.stderr);
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'ops', email: ADMIN });
  await page.goto(`${srv.url}/console/operations/audit`);
  const verify = page.getByRole('region', { name: 'Chain verification' });
  await verify.getByText('Broken').waitFor({ timeout: 15_000 });
  assert.match(await verify.innerText(), new RegExp(`Broken at entry ${latest.seq}\\b`));
  await page.getByRole('table', { name: 'Audit entries' }).getByRole('cell', { name: `Chain breaks here ${latest.seq}` }).waitFor();
  await checkA11y(page, 'audit chain broken');
  await screenshots(page, 'operations-audit-broken');
  watcher.assertClean();
  await context.close();
});
