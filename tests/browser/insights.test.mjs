// The insights dashboard in chromium against the real binary: empty states, then live
// updates after an ingest through the API (feed row with its content, then its sentiment;
// tiles and trend refreshed); filters kept in the URL (reload, back/forward); rows ingested
// while the network is cut (a TCP proxy between chromium and the server) appear after the
// reconnect, with the session refresh that fails while the network is down retried until
// it works; REST calls after the access token expired (a server with auth.access_ttl_s of
// 3 s); live rows in time order; phone width; the first-load size budget. axe on every
// state, screenshots light + dark.
//
// The browser drops the cairn_at cookie when the token expires (its Max-Age is the token's
// lifetime), so in the cut-network test, where the token must expire while the network is
// down, deleting the cookie stands for the expiry.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { stopAllServers, waitFor } from '../e2e/lib/server.mjs';
import { checkA11y, createTenant, launch, openPage, screenshots, signIn, startConsoleServer } from './lib/console.mjs';
import { startProxy } from './lib/proxy.mjs';

const BUDGET = 250 * 1024; // first load, JavaScript + CSS, gzipped

let srv;
let browser;
let acme;
let seeded;

const CUSTOMERS = [
  ['0190a000-0000-7000-8000-000000000001', 'gold'],
  ['0190a000-0000-7000-8000-000000000002', 'gold'],
  ['0190a000-0000-7000-8000-000000000003', 'silver'],
  ['0190a000-0000-7000-8000-000000000004', null],
];
const TEXTS = ['The courier was lovely, thank you!', 'Terrible delay, the parcel arrived broken.', 'Order received.',
  'Great support, very helpful.', 'I am angry: nobody answers my e-mails.'];
const CHANNELS = ['web', 'mobile', 'email', 'chat', 'phone'];

before(async () => {
  srv = await startConsoleServer();
  browser = await launch();
  acme = await createTenant(srv, 'acme', { name: 'Acme Ltd' });
});

after(async () => {
  await browser?.close();
  await stopAllServers();
});

/** `n` interactions spread over the last `days` days (the newest a minute ago). */
function items(n, { days = 6, tag = 'seed' } = {}) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    customer_id: CUSTOMERS[i % CUSTOMERS.length][0],
    timestamp: now - 60_000 - Math.floor((i / n) * days * 86_400_000),
    channel: CHANNELS[i % CHANNELS.length],
    event_type: 'message',
    content: `${TEXTS[(i + Math.floor(i / 5)) % TEXTS.length]} (${tag} ${i})`, // not in step with the channels
  }));
}

/** Customers with segments and a week of interactions, analysed. */
async function seed() {
  if (seeded) return;
  for (const [id, segment] of CUSTOMERS) await acme.api.put(`/api/v1/customers/${id}`, { segment });
  const r = await acme.api.insights.ingestBatch(items(60));
  assert.equal(r.failed, 0);
  await waitFor(async () => (await acme.api.insights.metrics({})).pending_analysis === 0, 20_000, 'the analysis of the seed');
  seeded = true;
}

async function openDashboard(page, base, query = '') {
  await page.goto(`${base}/console/insights${query}`);
  await page.getByRole('heading', { name: 'Insights', level: 1 }).waitFor();
}

const live = (page) => page.getByRole('status').filter({ hasText: /^Live$/ });
const feed = (page) => page.getByRole('list', { name: 'Latest interactions, newest first' });
const settled = (page) => page.locator('.insights[data-settled="true"]').waitFor({ timeout: 15_000 });

async function kpiValue(page, label) {
  return (await page.getByRole('region', { name: label }).locator('.kpi-value').textContent()).trim();
}

test('empty dashboard, then live after an ingest through the API: the row, its sentiment, the tiles', async () => {
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Insights' }).click();
  await page.getByRole('heading', { name: 'No interactions yet' }).waitFor();
  await settled(page);
  assert.equal(await kpiValue(page, 'Interactions'), '0');
  await checkA11y(page, 'insights, empty');
  await screenshots(page, 'insights-empty');

  await live(page).waitFor({ timeout: 15_000 });
  const content = 'The courier was lovely and early!';
  const { id } = await acme.api.insights.ingest({ customer_id: CUSTOMERS[0][0], timestamp: Date.now() - 1000,
    channel: 'chat', event_type: 'message', content });
  const row = feed(page).locator(`li[data-id="${id}"]`);
  await row.getByText(content).waitFor({ timeout: 5_000 });
  await row.locator('.sentiment-positive').waitFor({ timeout: 15_000 }); // once the analysis job scored it
  await waitFor(async () => (await kpiValue(page, 'Interactions')) === '1' && (await kpiValue(page, 'Active customers')) === '1',
    20_000, 'the tiles to count the ingest and its customer').catch(async (e) => {
    throw new Error(`${e.message}: interactions ${await kpiValue(page, 'Interactions')}, active ${await kpiValue(page, 'Active customers')}`);
  });
  const table = page.getByRole('table', { name: 'Interactions by channel' });
  assert.match(await table.getByRole('row', { name: /^chat/ }).textContent(), /chat1/);
  await checkA11y(page, 'insights, one live row');

  await seed();
  await waitFor(async () => (await kpiValue(page, 'Interactions')) === '61', 15_000, 'the tiles follow a batch');
  await page.getByRole('table', { name: /Sentiment by segment/ }).getByRole('row', { name: /^gold/ }).waitFor({ state: 'attached' });
  const trendRows = page.getByRole('table', { name: /Sentiment trend per day/ }).getByRole('row');
  const days = (await trendRows.count()) - 1; // 7 days from a minute boundary touch 8 calendar days
  assert.ok(days === 7 || days === 8, `daily buckets over 7 days: ${days}`);
  await settled(page);
  await checkA11y(page, 'insights with data');
  await screenshots(page, 'insights');
  watcher.assertClean();
  await context.close();
});

test('filters live in the URL: a reload keeps them, back and forward walk through them', async () => {
  await seed();
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await openDashboard(page, srv.url);
  await settled(page);

  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '30d', exact: true }).click();
  await page.waitForURL(/range=30d/);
  await page.getByRole('checkbox', { name: 'email' }).check();
  await page.getByLabel('Sentiment', { exact: true }).selectOption('negative');
  await page.getByLabel('Segments').fill('gold');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((u) => u.search === '?range=30d&channels=email&segments=gold&sentiment=negative');
  await settled(page);
  const shown = async () => feed(page).locator('li').evaluateAll((lis) => lis.map((li) => li.textContent));
  let rows = await shown();
  assert.ok(rows.length > 0, 'some rows match');
  for (const r of rows) assert.match(r, /email/);
  for (const r of rows) assert.match(r, /negative/);
  await checkA11y(page, 'insights, filtered');
  await screenshots(page, 'insights-filtered');

  await page.reload();
  await settled(page);
  assert.equal(await page.getByRole('button', { name: '30d', exact: true }).getAttribute('aria-pressed'), 'true');
  assert.equal(await page.getByRole('checkbox', { name: 'email' }).isChecked(), true);
  assert.equal(await page.getByLabel('Sentiment', { exact: true }).inputValue(), 'negative');
  assert.equal(await page.getByLabel('Segments').inputValue(), 'gold');
  assert.deepEqual(await shown(), rows, 'the same view after the reload');

  await page.goBack(); // before Apply: no segment
  await page.waitForURL((u) => u.search === '?range=30d&channels=email&sentiment=negative');
  assert.equal(await page.getByLabel('Segments').inputValue(), '');
  await page.goBack(); // before the sentiment
  await page.waitForURL((u) => u.search === '?range=30d&channels=email');
  await settled(page);
  assert.equal(await page.getByLabel('Sentiment', { exact: true }).inputValue(), '');
  rows = await shown();
  assert.ok(rows.some((r) => /positive/.test(r)), 'not only negative rows any more');
  await page.goForward();
  await page.goForward();
  await page.waitForURL((u) => u.search === '?range=30d&channels=email&segments=gold&sentiment=negative');
  assert.equal(await page.getByLabel('Sentiment', { exact: true }).inputValue(), 'negative');
  assert.equal(await page.getByLabel('Segments').inputValue(), 'gold');

  await page.getByLabel('Customer id').fill('not-a-customer');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('Enter the customer id').waitFor();
  assert.match(page.url(), /sentiment=negative$/, 'a bad id changes nothing');
  await checkA11y(page, 'insights, a bad customer id');
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await page.waitForURL((u) => u.search === '?range=30d');
  watcher.assertClean();
  await context.close();
});

test('live rows show their content and sit in time order, whatever order they arrive in', async () => {
  await seed();
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await openDashboard(page, srv.url, '?range=24h');
  await live(page).waitFor({ timeout: 15_000 });
  const now = Date.now();
  const offsets = [50, 10, 40, 20, 30]; // seconds ago, out of order
  const made = [];
  for (const s of offsets) {
    const content = `ordered arrival ${s}s ago`;
    const { id } = await acme.api.insights.ingest({ customer_id: CUSTOMERS[2][0], timestamp: now - s * 1000,
      channel: 'web', event_type: 'visit', content });
    made.push({ id, content, s });
  }
  for (const m of made) await feed(page).locator(`li[data-id="${m.id}"]`).getByText(m.content).waitFor({ timeout: 5_000 });
  const stamps = await feed(page).locator('li').evaluateAll((lis) => lis.map((li) => Number(li.dataset.timestamp)));
  assert.deepEqual(stamps, [...stamps].sort((a, b) => b - a), 'newest first');
  const ids = await feed(page).locator('li').evaluateAll((lis) => lis.map((li) => li.dataset.id));
  const order = made.slice().sort((a, b) => a.s - b.s).map((m) => m.id);
  assert.deepEqual(ids.filter((i) => order.includes(i)), order, 'the five rows by their own time');
  watcher.assertClean();
  await context.close();
});

test('cut network: rows ingested meanwhile appear after the reconnect; the failing refresh is retried', async () => {
  await seed();
  const proxy = await startProxy({ port: srv.port });
  const { context, page, watcher } = await openPage(browser);
  try {
    await signIn(page, proxy, { tenant: 'acme', email: acme.email });
    await openDashboard(page, proxy.url, '?range=24h');
    await live(page).waitFor({ timeout: 15_000 });
    const failed = [];
    page.on('requestfailed', (r) => { if (/\/api\/v1\/auth\/(refresh|session)/.test(r.url())) failed.push(r.url()); });

    proxy.cut();
    await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor({ timeout: 15_000 });
    // the access token "expires" while offline: the reconnect must refresh first, and that
    // refresh fails as long as the network is down
    await context.clearCookies({ name: 'cairn_at' });
    const during = [];
    for (const [i, s] of [20, 5, 12].entries()) {
      const content = `while offline ${i}`;
      const { id } = await acme.api.insights.ingest({ customer_id: CUSTOMERS[1][0], timestamp: Date.now() - s * 1000,
        channel: 'email', event_type: 'message', content });
      during.push({ id, content });
    }
    await waitFor(() => failed.length >= 2, 30_000, 'the session refresh to be tried (and fail) twice while offline');
    assert.equal(await live(page).count(), 0, 'not live while cut');
    await checkA11y(page, 'insights, reconnecting');
    await screenshots(page, 'insights-reconnecting');

    proxy.restore();
    await live(page).waitFor({ timeout: 45_000 }); // back-off is capped at 30 s
    for (const d of during) await feed(page).locator(`li[data-id="${d.id}"]`).getByText(d.content).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).count(), 0);
    assert.equal(await page.getByRole('dialog').count(), 0, 'no sign-in prompt: the refresh worked once the network was back');
    const cookies = await context.cookies();
    assert.ok(cookies.some((c) => c.name === 'cairn_at'), 'a new access cookie');

    // and the connection is live again: a new ingest shows
    const { id } = await acme.api.insights.ingest({ customer_id: CUSTOMERS[1][0], timestamp: Date.now(),
      channel: 'email', event_type: 'message', content: 'after the reconnect' });
    await feed(page).locator(`li[data-id="${id}"]`).getByText('after the reconnect').waitFor({ timeout: 5_000 });
    watcher.problems.splice(0, watcher.problems.length,
      ...watcher.problems.filter((p) => !/ERR_CONNECTION|ERR_EMPTY_RESPONSE|WebSocket connection|net::/.test(p)));
    watcher.assertClean();
  } finally {
    await context.close();
    await proxy.close();
  }
});

test('REST calls keep working after the access token expires (auth.access_ttl_s: 3 s)', async () => {
  const short = await startConsoleServer({ env: { CAIRN_ACCESS_TTL_S: '3' } });
  const brief = await createTenant(short, 'brief', { name: 'Brief Ltd' });
  await brief.api.insights.ingestBatch(items(10, { tag: 'brief' }));
  const { context, page, watcher } = await openPage(browser);
  await signIn(page, short, { tenant: 'brief', email: brief.email });
  await openDashboard(page, short.url);
  await settled(page);
  await live(page).waitFor({ timeout: 15_000 });
  const refreshes = [];
  page.on('response', (r) => { if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(r.status()); });
  for (const [round, range] of [[1, '90d'], [2, '30d']]) {
    await waitFor(async () => !(await context.cookies()).some((c) => c.name === 'cairn_at'), 10_000,
      'the browser to drop the expired access cookie');
    await page.getByRole('button', { name: range, exact: true }).click();
    await page.waitForURL(new RegExp(`range=${range}`));
    await settled(page);
    assert.ok(refreshes.filter((st) => st === 200).length >= round, `refreshed from the refresh cookie (${round})`);
  }
  assert.equal(await page.getByRole('table', { name: /Sentiment trend per day/ }).count(), 1);
  assert.equal(await page.getByRole('dialog').count(), 0, 'no sign-in prompt');
  assert.equal(await page.getByRole('alert').count(), 0, 'no error shown');
  // the realtime connection outlives the token it was opened with
  const { id } = await brief.api.insights.ingest({ customer_id: CUSTOMERS[0][0], timestamp: Date.now(), channel: 'web',
    event_type: 'visit', content: 'after the token expired' });
  await feed(page).locator(`li[data-id="${id}"]`).getByText('after the token expired').waitFor({ timeout: 10_000 });
  watcher.assertClean();
  await context.close();
  await short.stop();
});

test('phone width (390 px): the dashboard fits without horizontal scrolling', async () => {
  await seed();
  const { context, page, watcher } = await openPage(browser, { width: 390, height: 844 });
  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await openDashboard(page, srv.url);
  await settled(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits 390 px (overflows by ${overflow} px)`);
  await checkA11y(page, 'insights at phone width');
  await screenshots(page, 'insights-phone');
  watcher.assertClean();
  await context.close();
});

/** The size of `url` as the server sends it gzipped (its precompressed copy). */
function gzipSize(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      res.on('end', () => resolve({ n, encoding: res.headers['content-encoding'] ?? 'identity' }));
    }).on('error', reject);
  });
}

test('first load: JavaScript + CSS within 250 KB gzipped before sign-in and with the dashboard open; the dashboard is a chunk of its own', async () => {
  const { context, page, watcher } = await openPage(browser);
  const assets = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (/\.(js|css)$/.test(u.pathname) && !assets.includes(u.href)) assets.push(u.href);
  });
  const total = async (list) => {
    let sum = 0;
    for (const u of list) {
      const { n, encoding } = await gzipSize(u);
      assert.equal(encoding, 'gzip', `${u} is served gzipped`);
      sum += n;
    }
    return sum;
  };
  await page.goto(`${srv.url}/console/`);
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  await page.waitForLoadState('networkidle');
  const before = assets.slice();
  assert.ok(!before.some((u) => /InsightsPage/.test(u)), 'the dashboard is not loaded before it is opened');
  const signInBytes = await total(before);

  await signIn(page, srv, { tenant: 'acme', email: acme.email });
  await page.getByRole('link', { name: 'Insights' }).click();
  await page.getByRole('heading', { name: 'Insights', level: 1 }).waitFor();
  await page.waitForLoadState('networkidle');
  assert.ok(assets.some((u) => /InsightsPage.*\.js$/.test(u)), 'the dashboard chunk loaded on demand');
  const withDashboard = await total(assets);
  console.log(`console first load, gzipped JS + CSS: ${signInBytes} B before sign-in, ${withDashboard} B with the dashboard`);
  assert.ok(signInBytes <= BUDGET, `before sign-in ${signInBytes} B ≤ ${BUDGET} B`);
  assert.ok(withDashboard <= BUDGET, `with the dashboard ${withDashboard} B ≤ ${BUDGET} B`);
  watcher.assertClean();
  await context.close();
});
