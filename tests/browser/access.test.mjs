// The console's Administration section in chromium against the real binary: an API key
// created, used from outside with X-Api-Key and Authorization, revoked and then refused;
// a member added and their role changed (checked through the API), a refused role change
// put back with the API's reason, a locked member shown and unlocked, a member removed; a custom role with two
// permissions (checked through the API) and a role in use that cannot be deleted; a viewer
// seeing no administration and a 403 page on its addresses; a session the API refuses
// (MFA policy) getting the 403 page from the API's answer; phone width. axe runs on every
// page, dialog and state; screenshots (light and dark) go to test-output/console/.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import { PW, checkA11y, createTenant, launch, openPage, screenshots, signIn, startConsoleServer } from './lib/console.mjs';

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

async function listItems(api, path) {
  const out = [];
  for await (const x of api.paginate(path)) out.push(x);
  return out;
}

async function rawFetch(path, headers, init = {}) {
  return fetch(`${srv.url}${path}`, { ...init, headers: { ...headers, ...(init.headers ?? {}) } });
}

test('API keys: create with permissions and expiry, the secret once, use it, revoke it, refused after', async () => {
  const t = await createTenant(srv, 'keys', { name: 'Keys Ltd' });
  const { context, page, watcher } = await openPage(browser);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  await signIn(page, srv, { tenant: 'keys', email: t.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'No API keys yet' }).waitFor();
  await checkA11y(page, 'API keys, empty');
  await screenshots(page, 'access-keys-empty');

  await page.getByRole('button', { name: 'Create API key' }).first().click();
  const form = page.getByRole('form', { name: 'Create an API key' });
  await form.getByRole('checkbox', { name: 'notes.read' }).waitFor();
  // submitting without a permission says what is missing
  await form.getByLabel('Name').fill('billing export');
  await form.getByRole('button', { name: 'Create key' }).click();
  await form.getByText('Choose at least one permission').waitFor();
  await checkA11y(page, 'create key dialog with an error');
  await form.getByRole('checkbox', { name: 'notes.read' }).check();
  await form.getByRole('checkbox', { name: 'notes.write' }).check();
  await form.getByLabel('Expires').selectOption('30');
  await screenshots(page, 'access-keys-create');
  const before = Date.now();
  await form.getByRole('button', { name: 'Create key' }).click();

  const secretDialog = page.getByRole('dialog', { name: 'Copy the new API key' });
  await secretDialog.waitFor();
  await secretDialog.getByText('This is the only time the key is shown.').waitFor();
  const key = await secretDialog.getByLabel('API key secret').inputValue();
  assert.match(key, /^cairn_[A-Za-z0-9]+_[A-Za-z0-9_-]+$/);
  await secretDialog.getByRole('button', { name: 'Copy' }).click();
  await secretDialog.getByRole('button', { name: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key, 'the clipboard holds the key');
  await checkA11y(page, 'one-time secret dialog');
  await screenshots(page, 'access-keys-secret');
  await page.keyboard.press('Escape');
  assert.ok(await secretDialog.isVisible(), 'Esc does not throw the secret away');
  await secretDialog.getByRole('button', { name: 'I have stored the key' }).click();
  await secretDialog.waitFor({ state: 'hidden' });
  assert.equal(await page.getByText(key).count(), 0, 'the secret is not on the page any more');

  // the key as the API sees it: the chosen permissions, an expiry in 30 days
  const [stored] = await listItems(t.api, '/api/v1/api-keys');
  assert.equal(stored.name, 'billing export');
  assert.deepEqual([...stored.permissions].sort(), ['notes.read', 'notes.write']);
  const days = (stored.expires_at - before) / 86_400_000;
  assert.ok(days > 29.9 && days < 30.1, `expires in 30 days (${days})`);

  // use it from outside the browser, both ways docs/auth.md gives
  const created = await rawFetch('/api/v1/notes', { 'X-Api-Key': key, 'Content-Type': 'application/json' },
    { method: 'POST', body: JSON.stringify({ title: 'from the key', body: 'written with an API key' }) });
  assert.equal(created.status, 201, await created.clone().text());
  const listed = await rawFetch('/api/v1/notes', { Authorization: `Bearer ${key}` });
  assert.equal(listed.status, 200);
  assert.ok((await listed.json()).items.some((n) => n.title === 'from the key'));
  const beyond = await rawFetch('/api/v1/users', { 'X-Api-Key': key });
  assert.equal(beyond.status, 403, 'the key has exactly its permissions');

  await page.reload();
  const row = page.getByRole('row', { name: /billing export/ });
  await row.waitFor();
  assert.match(await row.textContent(), /Active/);
  await waitFor(async () => !/never/.test(await row.getByRole('cell').nth(3).textContent()), 10_000, 'last use shown', 200);
  await checkA11y(page, 'API keys list');
  await screenshots(page, 'access-keys-list');

  await row.getByRole('button', { name: 'Revoke key billing export' }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke the key billing export?' });
  await confirm.waitFor();
  await checkA11y(page, 'revoke confirmation');
  await screenshots(page, 'access-keys-revoke');
  await confirm.getByRole('button', { name: 'Revoke key' }).click();
  await confirm.waitFor({ state: 'hidden' });
  await waitFor(async () => /Revoked/.test(await row.textContent()), 10_000, 'the row says revoked', 200);
  assert.equal(await row.getByRole('button', { name: /Revoke/ }).count(), 0);

  const refused = await rawFetch('/api/v1/notes', { 'X-Api-Key': key });
  assert.equal(refused.status, 401, 'a revoked key is refused');
  const refusedBearer = await rawFetch('/api/v1/notes', { Authorization: `Bearer ${key}` });
  assert.equal(refusedBearer.status, 401);
  watcher.assertClean();
  await context.close();
});

test('members: add one (what happens next), change the role, a refused change put back, unlock, remove', async () => {
  const t = await createTenant(srv, 'crew', { name: 'Crew AB' });
  await t.api.post('/api/v1/users', { email: 'adam@crew.test', role: 'admin', password: PW });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'crew', email: t.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Members' }).click();
  await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
  await page.getByRole('row', { name: /adam@crew\.test/ }).waitFor();
  await checkA11y(page, 'members');
  await screenshots(page, 'access-members');

  await page.getByRole('button', { name: 'Add member' }).first().click();
  const form = page.getByRole('form', { name: 'Add a member' });
  await form.getByLabel('E-mail').fill('mia@crew.test');
  await form.getByLabel('Role').selectOption('member');
  await form.getByRole('button', { name: 'Add member' }).click();
  // a new e-mail without a first password: the API's field error lands on the field
  await form.getByLabel('First password (only for a new account)').and(page.locator('[aria-invalid="true"]')).waitFor();
  await checkA11y(page, 'add member with an error');
  await screenshots(page, 'access-members-add-error');
  await form.getByLabel('First password (only for a new account)').fill(PW);
  await form.getByRole('button', { name: 'Add member' }).click();
  const done = page.getByRole('dialog', { name: 'Member added' });
  await done.waitFor();
  assert.match(await done.textContent(), /mia@crew\.test is now a member of Crew AB/);
  assert.match(await done.textContent(), /Cairn sends no e-mail/);
  await checkA11y(page, 'member added');
  await screenshots(page, 'access-members-added');
  await done.getByRole('button', { name: 'Done' }).click();

  let mia = (await listItems(t.api, '/api/v1/users')).find((m) => m.email === 'mia@crew.test');
  assert.equal(mia?.role, 'member', 'added through the API');

  const select = page.getByLabel('Role of mia@crew.test');
  await select.selectOption('viewer');
  await waitFor(async () => (await listItems(t.api, '/api/v1/users')).find((m) => m.email === 'mia@crew.test')?.role === 'viewer',
    10_000, 'the role changed on the server', 200);
  assert.equal(await select.inputValue(), 'viewer');

  // lock mia out (wrong passwords), then unlock her from the page
  const { CairnClient } = await import('../../sdk/js/index.js');
  for (let i = 0; i < 5; i++) {
    await new CairnClient({ baseUrl: srv.url }).login({ tenant: 'crew', email: 'mia@crew.test', password: 'wrong-password-1234' }).catch(() => {});
  }
  assert.equal(await page.getByRole('button', { name: /^Unlock sign-in/ }).count(), 0, 'nobody is locked yet');
  await page.reload();
  const miaRow = page.getByRole('row', { name: /mia@crew\.test/ });
  await miaRow.getByText(/locked out until/).waitFor();
  await checkA11y(page, 'members with a locked account');
  await screenshots(page, 'access-members-locked');
  await miaRow.getByRole('button', { name: 'Unlock sign-in of mia@crew.test' }).click();
  await page.getByText(/mia@crew\.test can sign in again \(\d+ lockout records? cleared\)/).waitFor();
  await miaRow.getByText(/locked out until/).waitFor({ state: 'detached' });
  assert.equal(await miaRow.getByRole('button', { name: /^Unlock/ }).count(), 0);
  await new CairnClient({ baseUrl: srv.url }).login({ tenant: 'crew', email: 'mia@crew.test', password: PW });
  await checkA11y(page, 'members after an unlock');

  await page.getByRole('row', { name: /mia@crew\.test/ }).getByRole('button', { name: 'Remove mia@crew.test' }).click();
  const confirm = page.getByRole('dialog', { name: 'Remove mia@crew.test?' });
  await confirm.waitFor();
  await checkA11y(page, 'remove confirmation');
  await screenshots(page, 'access-members-remove');
  await confirm.getByRole('button', { name: 'Remove member' }).click();
  await confirm.waitFor({ state: 'hidden' });
  await page.getByRole('row', { name: /mia@crew\.test/ }).waitFor({ state: 'detached' });
  assert.equal((await listItems(t.api, '/api/v1/users')).some((m) => m.email === 'mia@crew.test'), false, 'removed');
  watcher.assertClean();
  await context.close();

  // an admin cannot make an owner: the select shows the change, then puts it back with the reason
  await t.api.post('/api/v1/users', { email: 'noor@crew.test', role: 'member', password: PW });
  const second = await openPage(browser);
  await signIn(second.page, srv, { tenant: 'crew', email: 'adam@crew.test' });
  await second.page.goto(`${srv.url}/console/access/members`);
  const noor = second.page.getByLabel('Role of noor@crew.test');
  await noor.selectOption('owner');
  const alert = second.page.getByRole('alert').filter({ hasText: 'The role of noor@crew.test was not changed to owner' });
  await alert.waitFor();
  assert.match(await alert.textContent(), /was not changed to owner: \S.+/);
  await waitFor(async () => (await noor.inputValue()) === 'member', 10_000, 'the role is put back', 200);
  mia = (await listItems(t.api, '/api/v1/users')).find((m) => m.email === 'noor@crew.test');
  assert.equal(mia?.role, 'member');
  await checkA11y(second.page, 'a refused role change');
  await screenshots(second.page, 'access-members-refused');
  second.watcher.assertClean();
  await second.context.close();
});

test('roles: a custom role with two permissions; a role in use is not deleted (the reason shown), a free one is', async () => {
  const t = await createTenant(srv, 'guild', { name: 'Guild Co' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'guild', email: t.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Roles' }).click();
  await page.getByRole('row', { name: /viewer/ }).waitFor();
  const more = page.getByRole('button', { name: /^Show \d+ more permissions of the role owner$/ });
  await more.click();
  await page.getByRole('button', { name: 'Show fewer permissions of the role owner' }).waitFor();
  assert.ok(await page.getByRole('list', { name: 'Permissions of the role owner' }).getByText('users.manage').isVisible());
  await checkA11y(page, 'roles');
  await screenshots(page, 'access-roles');

  await page.getByRole('button', { name: 'Create role' }).click();
  const form = page.getByRole('form', { name: 'Create a role' });
  await form.getByRole('group', { name: 'notes' }).waitFor();
  await form.getByLabel('Name').fill('support');
  // by keyboard: Space ticks the focused box
  await form.getByRole('checkbox', { name: 'notes.read' }).focus();
  await page.keyboard.press('Space');
  assert.ok(await form.getByRole('checkbox', { name: 'notes.read' }).isChecked());
  await form.getByRole('checkbox', { name: 'insights.read' }).check();
  await form.getByText('2 permissions chosen').waitFor();
  await checkA11y(page, 'create role dialog');
  await screenshots(page, 'access-roles-create');
  await form.getByRole('button', { name: 'Create role' }).click();
  await form.waitFor({ state: 'hidden' });
  await page.getByRole('row', { name: /support/ }).waitFor();

  const roles = await listItems(t.api, '/api/v1/roles');
  const support = roles.find((r) => r.name === 'support');
  assert.equal(support?.builtin, false);
  assert.deepEqual([...support.permissions].filter((p) => !p.startsWith('self.')).sort(), ['insights.read', 'notes.read']);

  // a member holds it: deleting is refused and the API's detail is shown in the dialog
  await t.api.post('/api/v1/users', { email: 'sam@guild.test', role: 'support', password: PW });
  await page.getByRole('button', { name: 'Delete role support' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete the role support?' });
  await confirm.getByRole('button', { name: 'Delete role' }).click();
  const refusal = confirm.getByRole('alert');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /Not done/);
  await checkA11y(page, 'a role in use, delete refused');
  await screenshots(page, 'access-roles-delete-refused');
  await confirm.getByRole('button', { name: 'Cancel' }).click();

  const member = (await listItems(t.api, '/api/v1/users')).find((m) => m.email === 'sam@guild.test');
  await t.api.patch(`/api/v1/users/${member.id}`, { role: 'viewer' });
  await page.getByRole('button', { name: 'Delete role support' }).click();
  await confirm.getByRole('button', { name: 'Delete role' }).click();
  await confirm.waitFor({ state: 'hidden' });
  await page.getByRole('row', { name: /support/ }).waitFor({ state: 'detached' });
  assert.equal((await listItems(t.api, '/api/v1/roles')).some((r) => r.name === 'support'), false);
  watcher.assertClean();
  await context.close();
});

test('a viewer sees no administration and gets the 403 page on its addresses', async () => {
  const t = await createTenant(srv, 'view', { name: 'View Oy' });
  await t.api.post('/api/v1/users', { email: 'vera@view.test', role: 'viewer', password: PW });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'view', email: 'vera@view.test' });
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Sections' });
  assert.equal(await nav.getByRole('link', { name: /Members|Roles|API keys/ }).count(), 0, 'no admin entries');
  assert.equal(await nav.getByText('Administration').count(), 0);
  assert.equal(await page.getByRole('main').getByRole('link', { name: 'Administration' }).count(), 0);

  for (const p of ['access/members', 'access/roles', 'access/api-keys', 'access']) {
    await page.goto(`${srv.url}/console/${p}`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    assert.match(await page.getByRole('main').textContent(), /Your role does not allow this page/);
  }
  await checkA11y(page, '403 page');
  await screenshots(page, 'access-forbidden');
  watcher.assertClean();
  await context.close();
});

test('a page the API refuses (403: the MFA policy holds an owner without a second factor) shows the 403 page', async () => {
  const t = await createTenant(srv, 'strict', { name: 'Strict SA' });
  await t.api.patch('/api/v1/tenant', { mfa_required_for_admins: true });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'strict', email: t.email });
  await page.goto(`${srv.url}/console/access/api-keys`);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  // (the shell's own banner about enrolling may show too: this is the page's notice)
  const notice = page.getByRole('main').getByRole('alert').filter({ hasText: 'If you should have access' });
  assert.match(await notice.textContent(), /requires MFA/, "the API's reason, which says what to do");
  assert.doesNotMatch(await notice.textContent(), /Your role does not allow/, 'the role does allow it');
  await checkA11y(page, '403 from the API');
  await screenshots(page, 'access-forbidden-api');
  watcher.assertClean();
  await context.close();
});

test('phone width: members and API keys fit 390 px, dialogs usable', async () => {
  const t = await createTenant(srv, 'phone', { name: 'Phone Ltd' });
  await t.api.post('/api/v1/users', { email: 'a-rather-long-address-for-a-phone@phone.test', role: 'member', password: PW });
  await t.api.post('/api/v1/api-keys', { name: 'reporting job', permissions: ['notes.read', 'insights.read'] });
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await signIn(page, srv, { tenant: 'phone', email: t.email });
  for (const [path, row, name] of [['members', /a-rather-long-address/, 'members'], ['api-keys', /reporting job/, 'keys'], ['roles', /viewer/, 'roles']]) {
    await page.goto(`${srv.url}/console/access/${path}`);
    await page.getByRole('row', { name: row }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${path}: the page does not scroll sideways (${overflow}px)`);
    await checkA11y(page, `${path} at 390 px`);
    await screenshots(page, `access-${name}-phone`);
  }
  await page.getByRole('button', { name: 'Create role' }).click();
  const form = page.getByRole('form', { name: 'Create a role' });
  await form.getByRole('checkbox', { name: 'notes.read' }).waitFor();
  const box = await page.getByRole('dialog').boundingBox();
  assert.ok(box && box.width <= 390, 'the dialog fits');
  await checkA11y(page, 'create role at 390 px');
  await screenshots(page, 'access-roles-create-phone');
  watcher.assertClean();
  await context.close();
});
