// The customers & data section in chromium against the real binary: a CSV upload with one
// bad row (the job's progress, the counts, the error report downloaded and naming the row);
// the ingest form showing the API's field error inline and succeeding once corrected; search
// with marked snippets where hostile text stays text; search at phone width; a customer's
// page (profile, history, patterns, trend). axe on every page and state, screenshots light
// and dark in test-output/console/, and no CSP violation or console error anywhere.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import { PW, checkA11y, createTenant, launch, openPage, screenshots, signIn, startConsoleServer } from './lib/console.mjs';

const DAY = 86_400_000;
let srv;
let browser;
let acme;

before(async () => {
  // patterns computed as soon as a customer's interactions are analysed
  srv = await startConsoleServer({ env: { CAIRN_INSIGHTS_PATTERN_DELAY_S: '0' } });
  browser = await launch();
  acme = await createTenant(srv, 'acme', { name: 'Acme Corp' });
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

function interaction(customer, over = {}) {
  return { customer_id: customer, timestamp: Date.now() - 60_000, channel: 'chat', event_type: 'message',
    content: 'hello there', ...over };
}

async function analysed(api, customer, n) {
  await waitFor(async () => {
    const r = await api.insights.list({ customer_id: customer, limit: 100 });
    return r.items.length >= n && r.items.every((i) => i.processed_at != null);
  }, 15_000, `${n} interactions of ${customer} analysed`);
}

// "2026-12-07T14:03" in the browser's zone (the test runs chromium in the same zone as node)
function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

test('empty states: no customers, no search yet, an unknown customer', async () => {
  const fresh = await createTenant(srv, 'fresh', { name: 'Fresh Ltd' });
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'fresh', email: fresh.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Customers', exact: true }).click();
  await page.getByRole('heading', { name: 'No customers yet' }).waitFor();
  await checkA11y(page, 'customers, empty');
  await screenshots(page, 'customers-empty');

  await page.goto(`${srv.url}/console/customers/search`);
  await page.getByRole('heading', { name: 'Search what customers wrote' }).waitFor();
  await checkA11y(page, 'search, no query');
  await page.getByLabel('Words to find').fill('nothing');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'No interaction matches' }).waitFor();
  assert.match(page.url(), /\/console\/customers\/search\?q=nothing$/);
  await checkA11y(page, 'search, no hits');

  await page.goto(`${srv.url}/console/customers/${randomUUID()}`);
  await page.getByRole('heading', { name: 'No such customer' }).waitFor();
  await checkA11y(page, 'customer, not found');
  watcher.assertClean();
  await context.close();
});

test('CSV upload with one bad row: progress, the counts, and an error report naming the row', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.goto(`${srv.url}/console/customers/import`);
  const form = page.getByRole('form', { name: 'Import a CSV file' });
  await form.waitFor();
  assert.match(await form.innerText(), /customer_id[\s\S]*timestamp[\s\S]*channel[\s\S]*event_type/, 'the expected columns are described');
  await checkA11y(page, 'import form');
  await screenshots(page, 'customers-import');

  // a wrong header is refused before anything is uploaded
  await form.getByLabel('CSV file').setInputFiles({ name: 'wrong.csv', mimeType: 'text/csv',
    buffer: Buffer.from('customer_id,when,channel,event_type\n') });
  await form.getByRole('button', { name: 'Upload and import' }).click();
  await form.getByText('The first row must name the column timestamp; unknown column: when.').waitFor();
  assert.equal(await form.getByLabel('CSV file').getAttribute('aria-invalid'), 'true');
  await checkA11y(page, 'import form, wrong header');

  const cust = randomUUID();
  const t0 = Date.now() - 3_600_000;
  const csv = [
    'customer_id,timestamp,channel,event_type,content',
    `${cust},${t0},chat,message,"The parcel came early, thanks!"`,
    `${cust},${new Date(t0 + 1000).toISOString()},email,message,"Another, quoted ""text"""`,
    `${cust},${t0 + 2000},fax,message,this row has a channel the server refuses`,
    `${cust},${t0 + 3000},web,page_view,`,
  ].join('\r\n') + '\r\n';
  await form.getByLabel('CSV file').setInputFiles({ name: 'interactions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  const [upload] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/interactions/import')),
    form.getByRole('button', { name: 'Upload and import' }).click(),
  ]);
  // sent by the SDK's XMLHttpRequest path, the one that reports upload progress
  assert.equal(upload.resourceType(), 'xhr');
  assert.equal(upload.postData(), csv);

  const job = page.getByRole('region', { name: 'Importing interactions.csv' });
  await job.waitFor();
  await job.getByRole('progressbar', { name: 'Rows imported' }).waitFor();
  await job.getByText('Import finished: 4 rows handled.').waitFor({ timeout: 20_000 });
  const counts = job.getByRole('definition');
  assert.deepEqual(await counts.allInnerTexts(), ['4', '3', '1'], 'rows read, imported, failed');
  await checkA11y(page, 'import finished');
  await screenshots(page, 'customers-import-done');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    job.getByRole('button', { name: 'Download the error report' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^import-[0-9a-f]{8}-errors\.csv$/);
  const report = await readFile(await download.path(), 'utf8');
  const lines = report.trim().split(/\r?\n/);
  assert.equal(lines[0], 'record,line,error');
  assert.equal(lines.length, 2, report);
  // the fourth record (the header is the first), on the file's fourth line, for its channel
  assert.match(lines[1], /^4,4,"?channel: /, report);

  // what was imported is there
  const list = await acme.api.insights.list({ customer_id: cust });
  assert.equal(list.items.length, 3);
  watcher.assertClean(); // no CSP violation from the blob: download
  await context.close();
});

test("the ingest form: the API's field error inline, then success with the sentiment", async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Add an interaction' }).click();
  const form = page.getByRole('form', { name: 'Add an interaction' });
  await form.waitFor();
  await checkA11y(page, 'ingest form');
  await screenshots(page, 'customers-ingest');

  // what the client checks: a customer id, and the text of a chat
  await form.getByRole('button', { name: 'Save interaction' }).click();
  await form.getByText("Enter the customer’s id").waitFor();
  await form.getByText('E-mail and chat interactions need their text').waitFor();
  await checkA11y(page, 'ingest form, client errors');

  await form.getByRole('button', { name: 'New customer id' }).click();
  const cust = await form.getByLabel('Customer id').inputValue();
  assert.match(cust, /^[0-9a-f-]{36}$/);
  await form.getByLabel('Content').fill('The support team was wonderful, thank you so much!');
  // only the server knows its clock: a day ahead is refused for the field
  await form.getByLabel('When').fill(localInput(Date.now() + DAY));
  await form.getByRole('button', { name: 'Save interaction' }).click();
  const when = form.getByLabel('When');
  await form.getByText('is in the future (more than 5 minutes ahead)').waitFor();
  assert.equal(await when.getAttribute('aria-invalid'), 'true');
  const described = await when.getAttribute('aria-describedby');
  assert.match(await page.locator(`[id="${described.split(' ').pop()}"]`).innerText(), /in the future/);
  assert.equal(await form.getByLabel('Content').inputValue(), 'The support team was wonderful, thank you so much!', 'nothing typed is lost');
  await checkA11y(page, 'ingest form, server field error');
  await screenshots(page, 'customers-ingest-error');

  await when.fill(localInput(Date.now() - 60_000));
  await form.getByRole('button', { name: 'Save interaction' }).click();
  const saved = page.getByRole('region', { name: 'Interaction saved' });
  await saved.waitFor();
  assert.match(await saved.innerText(), new RegExp(cust));
  await saved.getByText(/^Positive/).waitFor({ timeout: 20_000 });
  await checkA11y(page, 'ingest saved');
  await screenshots(page, 'customers-ingest-saved');
  const list = await acme.api.insights.list({ customer_id: cust });
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].sentiment.label, 'positive');
  watcher.assertClean();
  await context.close();
});

test('search: marked snippets, the query in the URL, pages; hostile text stays text', async () => {
  const cust = randomUUID();
  const hostile = 'The courier <img src=x onerror="window.__pwned=1"> was late <script>window.__pwned=2</script> <b>rude</b>';
  const items = [interaction(cust, { content: hostile, timestamp: Date.now() - 1000 })];
  for (let i = 0; i < 24; i++) items.push(interaction(cust, { content: `courier number ${i} delivered the box`, timestamp: Date.now() - (i + 2) * 60_000 }));
  await acme.api.insights.ingestBatch(items);

  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.goto(`${srv.url}/console/customers/search`);
  await page.getByLabel('Words to find').fill('courier');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\/console\/customers\/search\?q=courier$/);
  const hits = page.locator('.search-hits > li.search-hit');
  await page.getByRole('heading', { name: 'Results for “courier”' }).waitFor();
  await hits.first().locator('mark').first().waitFor();
  assert.equal(await hits.count(), 20);
  const marks = await page.locator('.search-hits mark').allInnerTexts();
  assert.ok(marks.length >= 20 && marks.every((m) => m.toLowerCase() === 'courier'), marks.join('|'));

  await checkA11y(page, 'search results');
  await screenshots(page, 'customers-search');

  await page.getByRole('navigation', { name: 'Search results: pages' }).getByRole('button', { name: 'Next' }).click();
  await page.getByText('Page 2').waitFor();
  await waitFor(async () => (await hits.count()) === 5, 10_000, 'the second page');

  // the hostile interaction: its text is characters, no element was made of it, nothing ran
  await page.getByLabel('Words to find').fill('onerror');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'Results for “onerror”' }).waitFor();
  const bad = hits.first();
  await bad.locator('mark', { hasText: 'onerror' }).waitFor();
  assert.equal(await hits.count(), 1);
  await bad.getByText('Full text').click();
  assert.equal(await bad.locator('.search-hit-content').innerText(), hostile);
  assert.equal(await page.locator('.search-hits img, .search-hits script, .search-hits b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await checkA11y(page, 'search, hostile text');
  await page.getByLabel('Words to find').fill('courier');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\?q=courier$/);

  // a reload keeps the query
  await page.reload();
  await page.getByRole('heading', { name: 'Results for “courier”' }).waitFor();
  assert.equal(await page.getByLabel('Words to find').inputValue(), 'courier');
  await hits.first().waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  watcher.assertClean();
  await context.close();
});

test('search results are visible at phone width (390 px)', async () => {
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.goto(`${srv.url}/console/customers/search?q=courier`);
  const hits = page.locator('.search-hits > li.search-hit');
  await hits.first().locator('mark').first().waitFor();
  for (const i of [0, 1, 2]) {
    const box = await hits.nth(i).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.width > 300, `hit ${i} fits: ${JSON.stringify(box)}`);
    assert.ok(await hits.nth(i).locator('mark').first().isVisible());
  }
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await checkA11y(page, 'search at 390 px');
  await screenshots(page, 'customers-search-phone');

  await page.goto(`${srv.url}/console/customers`);
  await page.getByRole('table', { name: 'Customers' }).waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'the table scrolls inside its box');
  await checkA11y(page, 'customers at 390 px');
  await screenshots(page, 'customers-list-phone');
  watcher.assertClean();
  await context.close();
});

test("a customer's page: profile (edited), history with sentiment, patterns and the trend", async () => {
  const cust = randomUUID();
  const now = Date.now();
  const items = [];
  for (let i = 0; i < 14; i++) {
    items.push(interaction(cust, { channel: 'email', timestamp: now - (i * 2 + 1) * DAY,
      content: i % 2 ? 'Thanks, great help as always!' : 'Lovely service, very happy <i>indeed</i>' }));
  }
  await acme.api.insights.ingestBatch(items);
  await acme.api.put(`/api/v1/customers/${cust}`, { email: 'kim@customer.test', segment: 'gold' });
  await analysed(acme.api, cust, 14);
  await waitFor(async () => (await acme.api.insights.patterns(cust)).items.length > 0, 15_000, 'patterns');

  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.goto(`${srv.url}/console/customers?segment=gold`);
  const table = page.getByRole('table', { name: 'Customers in segment gold' });
  await table.getByRole('link', { name: 'kim@customer.test' }).waitFor();
  assert.equal(await table.getByRole('row').count(), 2, 'the header and the one gold customer');
  // the column chooser shows a hidden column
  await page.getByText('Columns', { exact: true }).click();
  await page.getByRole('checkbox', { name: 'First seen' }).check();
  await table.getByRole('columnheader', { name: 'First seen' }).waitFor();
  await checkA11y(page, 'customers list');
  await screenshots(page, 'customers-list');

  await table.getByRole('link', { name: 'kim@customer.test' }).click();
  await page.getByRole('heading', { name: 'kim@customer.test', level: 1 }).waitFor();
  const profile = page.getByRole('region', { name: 'Profile' });
  await profile.getByText('gold').waitFor();
  assert.match(await profile.innerText(), /14 \(14 analysed\)/);
  assert.match(await profile.innerText(), /Positive/);

  const history = page.getByRole('table', { name: 'Interactions of this customer' });
  await history.getByRole('cell', { name: /Lovely service/ }).first().waitFor();
  assert.equal(await history.locator('tbody tr').count(), 10, 'the first page of 10');
  assert.equal(await history.locator('i').count(), 0, 'markup in content is text');
  assert.match(await history.locator('tbody').innerText(), /Positive/);
  await page.getByRole('navigation', { name: 'Interactions of this customer: pages' }).getByRole('button', { name: 'Next' }).click();
  await waitFor(async () => (await history.locator('tbody tr').count()) === 4, 10_000, 'the second page of history');
  // the API sorts by time ascending when asked
  await history.getByRole('button', { name: /When/ }).click();
  await waitFor(async () => (await history.getByRole('columnheader', { name: /When/ }).getAttribute('aria-sort')) === 'ascending', 10_000, 'sorted ascending');

  const patterns = page.getByRole('region', { name: 'Detected patterns' });
  await patterns.getByRole('listitem').first().waitFor();
  assert.match(await patterns.innerText(), /Confidence \d+/);

  const trend = page.getByRole('region', { name: 'Sentiment trend' });
  await trend.locator('canvas').first().waitFor();
  assert.match(await trend.locator('figcaption').innerText(), /14 interactions in the last 30 days, 14 analysed: 100% positive/);
  await trend.getByRole('button', { name: '90 days' }).click();
  await trend.getByText(/in the last 90 days/).waitFor();
  await checkA11y(page, 'customer page');
  await screenshots(page, 'customers-customer');

  await profile.getByRole('button', { name: 'Edit' }).click();
  const edit = profile.getByRole('form', { name: 'Edit the customer' });
  await edit.getByLabel('Segment').fill('platinum');
  await edit.getByLabel('E-mail').fill('not an address');
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.getByText('Enter an e-mail address, or leave it empty').waitFor();
  await checkA11y(page, 'customer edit, error');
  await edit.getByLabel('E-mail').fill('kim@customer.test');
  await edit.getByRole('button', { name: 'Save' }).click();
  await profile.getByText('platinum').waitFor();
  assert.equal((await acme.api.insights.customer(cust)).segment, 'platinum');
  watcher.assertClean();
  await context.close();
});

test('a viewer reads customers and search, but is offered no data entry and is refused its pages', async () => {
  await acme.api.post('/api/v1/users', { email: 'viewer@acme.test', role: 'viewer', password: PW });
  const cust = randomUUID();
  await acme.api.insights.ingest(interaction(cust, { content: 'seen by a viewer' }));
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: 'viewer@acme.test' });
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await nav.getByRole('link', { name: 'Customers', exact: true }).click();
  await page.getByRole('table', { name: 'Customers' }).getByRole('row').nth(1).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Add an interaction' }).count(), 0);
  assert.equal(await nav.getByRole('link', { name: 'Import CSV' }).count(), 0);
  assert.equal(await page.getByRole('main').getByRole('link', { name: /Import CSV|Add an interaction/ }).count(), 0);
  await page.goto(`${srv.url}/console/customers/${cust}`);
  await page.getByRole('region', { name: 'Interactions' }).getByRole('cell', { name: 'seen by a viewer' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Edit' }).count(), 0, 'no editing for a viewer');
  await page.goto(`${srv.url}/console/customers/import`);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  assert.equal(await page.getByLabel('CSV file').count(), 0);
  await checkA11y(page, 'import page, viewer');
  watcher.assertClean();
  await context.close();
});
