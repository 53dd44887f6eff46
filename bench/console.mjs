// Console benchmark: the insights dashboard on a large dataset, in chromium.
//
//   make build && node bench/console.mjs            # 1 000 000 interactions: ~5-10 minutes here
//   N=200000 ANALYSE_MAX_S=60 node bench/console.mjs  # smaller, quicker
//
// What it does (everything through the public API of a temporary `cairn serve`, bootstrap
// token only to create the tenant; per-client rate limits lifted; 127.0.0.1):
//   1. load   N interactions into tenant "bench" with bench/insights_load.c (compiled here
//             with cc): POST /api/v1/interactions/batch, 1 000 items a batch over 4
//             keep-alive connections, timestamps uniform over the last 90 days (so the widest
//             range of the dashboard holds every row), $CUSTOMERS customers, with an API key
//             of the tenant (insights.write). CAIRN_JOBS_WORKERS=0 during the load (pure
//             ingest; the fastest the public API allows), at most LOAD_MAX_S seconds.
//             $SEG_CUSTOMERS customers get one of four segments (PUT /api/v1/customers/{id}).
//   2. analyse the server restarts with the default job workers and the analysis (VADER) runs
//             for at most ANALYSE_MAX_S seconds; what is still pending then is reported (the
//             dashboard reads rollups either way; the averages cover the analysed rows).
//   3. routes one uncached call of each route the dashboard makes, for every range (a `to`
//             the cache has not seen), timed from the client: which route costs what.
//   4. browser chromium (playwright-core) signs in at /console/insights and reads the marks
//             the page sets: 'insights:ready' (tiles + trend have data) and 'insights:complete'
//             (segments and feed too), from the click on "Sign in" (ROUNDS times, each in a
//             fresh context; the first with the server's cache cold). Then filter changes
//             (ranges, a channel, a sentiment, a segment): the measure 'insights:filter', from
//             the click to every part redrawn with the new answers.
// Prints a Markdown report on stdout (progress on stderr). The whole run is bounded by
// LOAD_MAX_S + ANALYSE_MAX_S + a few minutes of measurement. Numbers are wall-clock times
// on a shared 2-core machine: read them as orders of magnitude, run twice to compare.
//
// Knobs (environment): N=1000000 CUSTOMERS=5000 SEG_CUSTOMERS=400 LOAD_MAX_S=600
//   ANALYSE_MAX_S=240 ROUNDS=3 CAIRN_BIN=build/cairn DATA= (keep the dataset in this
//   directory; a run whose DATA already holds one measures it again without loading)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CairnClient } from '../sdk/js/index.js';
import { REPO_ROOT, TOKEN, startServer, stopAllServers, tempDir, waitFor } from '../tests/e2e/lib/server.mjs';
import { PW, launch } from '../tests/browser/lib/console.mjs';

const N = Number(process.env.N ?? 1_000_000);
const CUSTOMERS = Number(process.env.CUSTOMERS ?? 5000);
const SEG_CUSTOMERS = Number(process.env.SEG_CUSTOMERS ?? 400);
const LOAD_MAX_S = Number(process.env.LOAD_MAX_S ?? 600);
const ANALYSE_MAX_S = Number(process.env.ANALYSE_MAX_S ?? 240);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SEGMENTS = ['enterprise', 'gold', 'silver', 'bronze'];
const RANGES = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, '90d': 90 * 86_400_000 };
const GROUP = { '24h': 'hour', '7d': 'day', '30d': 'day', '90d': 'week' };

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const out = (s = '') => console.log(s);
const ms = (x) => (x == null ? '—' : `${Math.round(x)} ms`);

function compileLoader(dir) {
  const bin = path.join(dir, 'insights_load');
  execFileSync('cc', ['-O2', '-pthread', '-o', bin, path.join(REPO_ROOT, 'bench', 'insights_load.c')]);
  return bin;
}

function run(bin, args, maxS) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    p.stdout.on('data', (d) => { stdout += d; });
    let last = 0;
    p.stderr.on('data', (d) => {
      const m = /progress (\d+) (\d+)/.exec(String(d).trim().split('\n').pop());
      if (m && Number(m[1]) >= last + 10) {
        last = Number(m[1]);
        log(`  ${m[2]} interactions after ${m[1]} s`);
      }
    });
    const t = setTimeout(() => p.kill('SIGTERM'), (maxS + 30) * 1000);
    p.on('exit', (code) => { clearTimeout(t); code === 0 ? resolve(stdout) : reject(new Error(`${bin} exited ${code}: ${stdout}`)); });
  });
}

async function timed(fn) {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

async function main() {
  const bin = process.env.CAIRN_BIN ?? 'build/cairn';
  if (!existsSync(path.resolve(REPO_ROOT, bin))) throw new Error(`no ${bin}: make build first`);
  const work = tempDir('cairn-bench-console-');
  // DATA=dir keeps the loaded dataset there, and a later run with the same DATA reuses it
  // (no load, no analysis): for measuring the reads again after a change
  const data = process.env.DATA ? path.resolve(process.env.DATA) : path.join(work, 'data');
  const reuse = existsSync(path.join(data, 'cairn.db'));
  const loader = compileLoader(work);
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`;
  let commit = '';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim(); } catch { /* not a checkout */ }

  // 1. load
  let srv = await startServer({ dataDir: data, env: { CAIRN_JOBS_WORKERS: '0' } });
  const owner = new CairnClient({ baseUrl: srv.url });
  if (!reuse) {
    const op = new CairnClient({ baseUrl: srv.url, token: TOKEN });
    await op.post('/api/v1/tenants', { slug: 'bench', name: 'Bench Ltd', owner_email: 'owner@bench.test', owner_password: PW });
  }
  await owner.login({ tenant: 'bench', email: 'owner@bench.test', password: PW });
  const { key } = await owner.post('/api/v1/api-keys', { name: 'bench', permissions: ['insights.read', 'insights.write'] });
  let loadMs = 0, loadOut = '', loaded, analyseMs = 0, pending;
  if (!reuse) {
    log(`loading ${N} interactions (at most ${LOAD_MAX_S} s)`);
    [loadMs, loadOut] = await timed(() => run(loader, ['batch', '--port', String(srv.port), '--token', key, '--connections', '4',
      '--batch', '1000', '--count', String(N), '--seconds', String(LOAD_MAX_S), '--customers', String(CUSTOMERS), '--days', '90',
      '--progress'], LOAD_MAX_S));
    const api = new CairnClient({ baseUrl: srv.url, apiKey: key });
    const ids = execFileSync(loader, ['ids', '--customers', String(CUSTOMERS)]).toString().trim().split('\n');
    for (let i = 0; i < Math.min(SEG_CUSTOMERS, ids.length); i++) {
      await api.put(`/api/v1/customers/${ids[i]}`, { segment: SEGMENTS[i % SEGMENTS.length] });
    }
    loaded = (await api.insights.metrics({ from: Date.now() - 100 * 86_400_000 })).interactions;
    log(`loaded ${loaded} in ${Math.round(loadMs / 1000)} s`);

    // 2. analyse (the segment changes' jobs run here too)
    await srv.stop();
    srv = await startServer({ dataDir: data });
    const api1 = new CairnClient({ baseUrl: srv.url, apiKey: key });
    log(`analysing (at most ${ANALYSE_MAX_S} s)`);
    [analyseMs] = await timed(() => waitFor(async () => (await api1.insights.metrics({ from: Date.now() - 100 * 86_400_000 })).pending_analysis === 0,
      ANALYSE_MAX_S * 1000, 'the analysis', 2000).catch(() => null));
    pending = (await api1.insights.metrics({ from: Date.now() - 100 * 86_400_000 })).pending_analysis;
    log(`pending after the analysis phase: ${pending}`);
    // measured without background jobs (the pattern jobs the analysis scheduled would run
    // during the measurements and drop the cache at every commit)
    await srv.stop();
    srv = await startServer({ dataDir: data, env: { CAIRN_JOBS_WORKERS: '0' } });
  }
  const api2 = new CairnClient({ baseUrl: srv.url, apiKey: key });
  const whole = await api2.insights.metrics({ from: Date.now() - 100 * 86_400_000, by_segment: true });
  loaded ??= whole.interactions;
  pending ??= whole.pending_analysis;
  const bySegment = whole.by_segment.map((x) => `${x.segment ?? 'none'} ${x.interactions}`).join(', ');

  // 3. routes, uncached (a `to` a few ms apart: a key the cache has not seen)
  const routes = [];
  for (const [range, len] of Object.entries(RANGES)) {
    const to = Date.now() + 60_000 + routes.length;
    const calls = {
      'metrics (tiles, current)': ['/api/v1/insights/metrics', { from: to - len, to }],
      'metrics (tiles, previous)': ['/api/v1/insights/metrics', { from: to - 2 * len, to: to - len }],
      'metrics by_segment': ['/api/v1/insights/metrics', { from: to - len, to, by_segment: true }],
      [`sentiment-trends by ${GROUP[range]}`]: ['/api/v1/insights/sentiment-trends', { from: to - len, to, group_by: GROUP[range] }],
      'insights (feed, 50)': ['/api/v1/insights', { from: to - len, limit: 50 }],
      'metrics, segments=gold': ['/api/v1/insights/metrics', { from: to - len, to: to + 1, segments: 'gold' }],
      'insights (feed, 50), segments=gold': ['/api/v1/insights', { from: to - len + 1, limit: 50, segments: 'gold' }],
      'insights (feed, 50), email, negative, gold': ['/api/v1/insights', { from: to - len + 2, limit: 50, segments: 'gold',
        channels: 'email', sentiment_max: -0.05 }],
    };
    for (const [name, [p, q]] of Object.entries(calls)) {
      const [t] = await timed(() => api2.get(p, { query: q }));
      routes.push({ range, name, t });
      log(`route ${range} ${name}: ${Math.round(t)} ms`);
    }
  }

  // 4. browser
  const browser = await launch();
  const signIns = [];
  for (let round = 0; round < ROUNDS; round++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${srv.url}/console/insights`);
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.getByLabel('Organisation').fill('bench');
    await form.getByLabel('E-mail').fill('owner@bench.test');
    await form.getByLabel('Password').fill(PW);
    await page.evaluate(() => performance.mark('bench:signin'));
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.insights[data-settled="true"]').waitFor({ timeout: 180_000 });
    const m = await page.evaluate(() => {
      const at = (n) => performance.getEntriesByName(n, 'mark')[0]?.startTime;
      return { signin: at('bench:signin'), ready: at('insights:ready'), complete: at('insights:complete') };
    });
    // where the time went: each request of the page after the click (resource timing)
    const timeline = await page.evaluate((t0) => performance.getEntriesByType('resource')
      .filter((e) => e.startTime >= t0)
      .map((e) => ({ name: new URL(e.name).pathname + (new URL(e.name).search.length > 1 ? '?…' : ''), start: e.startTime - t0, end: e.responseEnd - t0 })), m.signin);
    const login = timeline.find((e) => e.name === '/api/v1/auth/login')?.end;
    log(`sign-in round ${round + 1}: ready ${Math.round(m.ready - m.signin)} ms, complete ${Math.round(m.complete - m.signin)} ms`);
    signIns.push({ ready: m.ready - m.signin, complete: m.complete - m.signin, afterLogin: login == null ? null : m.ready - m.signin - login, timeline });
    if (round === ROUNDS - 1) {
      const steps = [['range 30d', () => page.getByRole('button', { name: '30d', exact: true }).click()],
        ['range 90d', () => page.getByRole('button', { name: '90d', exact: true }).click()],
        ['range 24h', () => page.getByRole('button', { name: '24h', exact: true }).click()],
        ['range 7d', () => page.getByRole('button', { name: '7d', exact: true }).click()],
        ['channel email', () => page.getByRole('checkbox', { name: 'email' }).check()],
        ['sentiment negative', () => page.getByLabel('Sentiment', { exact: true }).selectOption('negative')],
        ['segment gold', async () => { await page.getByLabel('Segments').fill('gold'); await page.getByRole('button', { name: 'Apply' }).click(); }],
        ['range 90d (filtered)', () => page.getByRole('button', { name: '90d', exact: true }).click()]];
      const filters = [];
      for (const [name, act] of steps) {
        const before = await page.evaluate(() => performance.getEntriesByName('insights:filter', 'measure').length);
        await act();
        try {
          await page.waitForFunction((n) => performance.getEntriesByName('insights:filter', 'measure').length > n, before, { timeout: 60_000 });
          const d = await page.evaluate(() => performance.getEntriesByName('insights:filter', 'measure').at(-1).duration);
          filters.push({ name, d });
        } catch {
          // what is still loading (the page's settled flag lists no parts: ask the network)
          filters.push({ name, d: null, note: `not redrawn within 60 s (${page.url()})` });
          log(`filter step ${name} did not settle`);
          await page.locator('.insights[data-settled="true"]').waitFor({ timeout: 120_000 }).catch(() => {});
        }
        log(`filter ${name}: ${filters.at(-1).d == null ? 'timeout' : Math.round(filters.at(-1).d)} ms`);
      }
      signIns.filters = filters;
    }
    await context.close();
  }
  await browser.close();
  await stopAllServers();

  out(`### Console benchmark ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — \`${commit}\``);
  out();
  out(`Command: \`N=${N} node bench/console.mjs\`. Machine: ${machine}.`);
  out();
  if (!reuse) {
    const acked = Number(/^acknowledged: (\d+)/m.exec(loadOut)?.[1] ?? NaN);
    const rate = /^interactions_per_s: (\d+)/m.exec(loadOut)?.[1] ?? '?';
    out(`- Loaded ${loaded} interactions (${Number.isNaN(acked) ? '' : `${acked} acknowledged, `}${Math.round(loadMs / 1000)} s, ${rate}/s by POST /interactions/batch, workers off), ` +
      `${CUSTOMERS} customers, ${SEG_CUSTOMERS} with a segment, timestamps over the last 90 days.`);
  }
  if (reuse) out(`- The dataset of an earlier run (DATA=${process.env.DATA}): ${loaded} interactions.`);
  else out(`- Analysis: ${analyseMs == null ? `not finished in ${ANALYSE_MAX_S} s` : `${Math.round(analyseMs / 1000)} s`}; ${pending} still pending when measured.`);
  out(`- Interactions per segment over the 90 days (by_segment): ${bySegment}.`);
  out();
  out('Times from the click on "Sign in" (which includes the password check, argon2id) and, last column, from the sign-in answer:');
  out();
  out('| sign-in round | tiles + trend (`insights:ready`) | every part (`insights:complete`) | `insights:ready` after the sign-in answer |');
  out('|---:|---:|---:|---:|');
  signIns.forEach((s, i) => out(`| ${i + 1}${i === 0 ? ' (server cache cold)' : ''} | ${ms(s.ready)} | ${ms(s.complete)} | ${ms(s.afterLogin)} |`));
  out();
  out(`Requests after the click on "Sign in" (round ${ROUNDS}), ms from the click:`);
  out();
  out('| request | start | end |');
  out('|---|---:|---:|');
  for (const e of signIns.at(-1).timeline) out(`| \`${e.name}\` | ${Math.round(e.start)} | ${Math.round(e.end)} |`);
  out();
  out('| filter change (last round) | click → every part redrawn (`insights:filter`) |');
  out('|---|---:|');
  for (const f of signIns.filters ?? []) out(`| ${f.name} | ${f.d == null ? f.note : ms(f.d)} |`);
  out();
  out('| range | route (one uncached call, client-timed) | time |');
  out('|---|---|---:|');
  for (const r of routes) out(`| ${r.range} | ${r.name} | ${ms(r.t)} |`);
}

const deadline = setTimeout(() => { log('the run exceeded its bound'); process.exit(2); },
  (LOAD_MAX_S + ANALYSE_MAX_S + 600) * 1000);
deadline.unref();
main().then(() => process.exit(0), async (e) => { console.error(e); await stopAllServers(); process.exit(1); });
