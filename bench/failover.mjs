// Failover through HAProxy: how long the clients of a node killed -9 wait before a request
// of theirs succeeds again. One cluster (scripts/cluster up: PostgreSQL, NATS, NODES nodes,
// HAProxy), CLIENTS clients each on its own keep-alive connection to HAProxy, sending
// GET /api/v1/notes/{id} back to back (round robin spreads each client's requests over the
// nodes); RUNS times: kill -9 one node (in turn), record every request, then start the
// node again and wait until HAProxy has it UP. Prints a Markdown block for RESULTS.md.
//
//   node bench/failover.mjs            RUNS=5 CLIENTS=12 NODES=3 SETTLE_MS=1500
//
// Per run:
//   affected  clients whose request failed at the kill (HAProxy answered 502 or closed the
//             connection): the dead node's "former clients"
//   failover  for each affected client, kill -> the end of its first successful request
//             after the kill; median and max over them (the figure)
//   worst     the longest request that started after the kill (one that HAProxy first sent
//             to the dead node and then to another)
//   down      kill -> HAProxy's stats show the node DOWN (polled every 10 ms)
//   failed    requests that failed in all
//   realtime  WS clients (default 12) on WebSockets through HAProxy, subscribed to
//             `notes`: those on the dead node reconnect through HAProxy at once when their
//             socket closes and subscribe again with `since`; kill -> `subscribed` again,
//             median and max over them
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.RUNS ?? 5);
const CLIENTS = Number(process.env.CLIENTS ?? 12);
const NODES = Number(process.env.NODES ?? 3);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1500); // load before and after each kill
const WS = Number(process.env.WS ?? 12);
const TOKEN = 'bench-failover-token';
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function get(agent, port, p) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, node: res.headers['x-cairn-node'] }));
      res.on('error', (e) => resolve({ error: e.code ?? e.message }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

async function haproxyState(statsPort, node) {
  const r = await new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: statsPort, path: '/stats;csv', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(b));
    }).on('error', () => resolve(''));
  });
  const line = r.split('\n').find((l) => l.startsWith(`nodes,node${node},`));
  return line?.split(',')[17];
}

/**
 * A realtime client through HAProxy that stays subscribed: when its socket closes it
 * connects again at once (HAProxy picks a live node) and subscribes with `since`.
 * resumedAt: when it was subscribed again after its first close.
 */
function realtimeClient(port) {
  const c = { node: null, closedAt: NaN, resumedAt: NaN, seq: 0, epoch: undefined, stopped: false, ws: null };
  const open = () => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/realtime`, { headers: { authorization: `Bearer ${TOKEN}` } });
    c.ws = ws;
    ws.on('upgrade', (res) => { c.node = res.headers['x-cairn-node']; });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.op === 'ready') ws.send(JSON.stringify({ op: 'subscribe', channel: 'notes', ...(c.epoch ? { since: c.seq, epoch: c.epoch } : {}) }));
      if (m.op === 'subscribed' || m.op === 'resync_required') {
        if (m.epoch) c.epoch = m.epoch;
        if (Number.isFinite(c.closedAt) && !Number.isFinite(c.resumedAt)) c.resumedAt = now();
        resolve();
      }
      if (m.op === 'event') c.seq = m.seq;
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (c.stopped) return;
      if (!Number.isFinite(c.closedAt)) c.closedAt = now();
      setImmediate(() => open().then(resolve));
    });
  });
  c.ready = open();
  c.stop = () => { c.stopped = true; c.ws?.terminate(); };
  return c;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const ms = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cairn-failover-'));
  const env = { CAIRN_BOOTSTRAP_TOKEN: TOKEN, CAIRN_RATE_IP_PER_MIN: '10000000', CAIRN_RATE_USER_PER_MIN: '10000000' };
  const down = () => { spawnSync(path.join(ROOT, 'scripts/cluster'), ['down', dir], { stdio: 'ignore' }); rmSync(dir, { recursive: true, force: true }); };
  process.on('exit', down);
  process.on('SIGINT', () => process.exit(130));
  const out = sh('scripts/cluster', ['up', dir, '--nodes', String(NODES)], env);
  const port = Number(/^cluster ready at http:\/\/127\.0\.0\.1:(\d+)$/m.exec(out)[1]);
  const statsPort = Number(readFileSync(path.join(dir, 'stats_port'), 'utf8'));
  const pidOf = (n) => Number(readFileSync(path.join(dir, `node${n}.pid`), 'utf8'));

  // one note to read
  const note = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/api/v1/notes', method: 'POST', agent: false,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(JSON.parse(b).id));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ title: 'failover', body: 'read again and again' }));
  });
  const target = `/api/v1/notes/${note}`;

  const rows = [];
  for (let run = 0; run < RUNS; run++) {
    const victim = (run % NODES) + 1;
    const log = []; // {client, start, end, ok, status|error}
    let stop = false;
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop) {
        const start = now();
        const r = await get(agent, port, target);
        log.push({ client: c, start, end: now(), ok: r.status === 200, what: r.status ?? r.error });
      }
      agent.destroy();
    });
    const rts = Array.from({ length: WS }, () => realtimeClient(port));
    await Promise.all(rts.map((r) => r.ready));
    const onVictim = rts.filter((r) => r.node === `node${victim}`);
    await sleep(SETTLE_MS);
    const tKill = now();
    process.kill(pidOf(victim), 'SIGKILL');
    let tDown = NaN;
    while (now() - tKill < 10_000) {
      if ((await haproxyState(statsPort, victim)) === 'DOWN') { tDown = now(); break; }
      await sleep(10);
    }
    await sleep(SETTLE_MS);
    stop = true;
    await Promise.all(clients);
    const resumed = onVictim.map((r) => r.resumedAt - tKill);
    for (const r of rts) r.stop();

    const failed = log.filter((e) => !e.ok);
    const affected = [...new Set(failed.filter((e) => e.end >= tKill).map((e) => e.client))];
    const failover = affected.map((c) => {
      const ok = log.filter((e) => e.client === c && e.ok && e.end > tKill).sort((a, b) => a.end - b.end)[0];
      return ok ? ok.end - tKill : NaN;
    });
    const after = log.filter((e) => e.start >= tKill);
    rows.push({
      run: run + 1, victim, affected: affected.length, failoverMed: median(failover), failoverMax: failover.length ? Math.max(...failover) : NaN,
      worst: Math.max(...after.map((e) => e.end - e.start)), down: tDown - tKill, failed: failed.length,
      what: [...new Set(failed.map((e) => e.what))].join(' '), requests: log.length,
      wsOn: onVictim.length, wsMed: median(resumed), wsMax: resumed.length ? Math.max(...resumed) : NaN,
    });
    sh('scripts/cluster', ['start-node', dir, String(victim)], env);
    while ((await haproxyState(statsPort, victim)) !== 'UP') await sleep(50);
  }

  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '?';
  const ver = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout.split('\n')[0].trim();
  console.log(`Command: \`RUNS=${RUNS} CLIENTS=${CLIENTS} NODES=${NODES} SETTLE_MS=${SETTLE_MS} node bench/failover.mjs\``);
  console.log(`Machine: ${os.cpus().length} × ${cpu}, ${os.type()} ${os.release()}; ${ver('haproxy', ['-v'])}; ${ver('/usr/lib/postgresql/15/bin/postgres', ['--version'])}`);
  console.log('');
  console.log('| run | node killed | requests | failed (how) | affected clients | failover median ms | failover max ms | longest request after the kill, ms | marked DOWN after ms | sockets on it | resubscribed median ms | max ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.run} | ${r.victim} | ${r.requests} | ${r.failed} (${r.what || '–'}) | ${r.affected} | ${ms(r.failoverMed)} | ${ms(r.failoverMax)} | ${ms(r.worst)} | ${ms(r.down)} | ${r.wsOn} | ${ms(r.wsMed)} | ${ms(r.wsMax)} |`);
  const all = (k) => median(rows.map((r) => r[k]).filter(Number.isFinite));
  console.log(`| median | | | | | ${ms(all('failoverMed'))} | ${ms(all('failoverMax'))} | ${ms(all('worst'))} | ${ms(all('down'))} | | ${ms(all('wsMed'))} | ${ms(all('wsMax'))} |`);
}

main().catch((e) => { console.error(e); process.exit(1); });
