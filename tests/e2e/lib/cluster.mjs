// Several cairn nodes on one PostgreSQL database with one NATS server between them, for the
// cluster tests: each node has a data directory of its own (its lock, its logs) and shares
// the database (db.mjs, the first node's) and the secrets key file, as a production
// cluster does. The NATS server is this process's (scripts/nats-test), stopped on exit.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { databaseUrl } from './db.mjs';
import { REPO_ROOT, request, startServer, tempDir, waitFor } from './server.mjs';

const NATS_TEST = path.join(REPO_ROOT, 'scripts', 'nats-test');
const natsDirs = new Set();

process.on('exit', () => {
  for (const d of natsDirs) spawnSync(NATS_TEST, ['stop', d]);
});

function natsTest(cmd, dir) {
  const r = spawnSync(NATS_TEST, [cmd, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/nats-test ${cmd} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** A NATS server (JetStream on) on loopback: {url, halt(), restart(), stop()}. */
export function startNats() {
  const dir = tempDir('cairn-nats-');
  natsDirs.add(dir);
  const url = natsTest('start', dir);
  return {
    url,
    /** stops the server; restart() brings it back on the same port */
    halt: () => natsTest('halt', dir),
    restart: () => natsTest('restart', dir),
    stop: () => { natsTest('stop', dir); natsDirs.delete(dir); },
  };
}

/**
 * A TCP proxy on loopback in front of the NATS server at url, for one node's connection:
 * {url, drop, cut(), close()}. While drop is true, what the node sends is read and thrown
 * away (lost on the way, as what a client was writing when its connection broke); cut()
 * closes every connection through it, and the node reconnects.
 */
export async function natsProxy(url) {
  const target = new URL(url);
  const sockets = new Set();
  const proxy = { drop: false };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on('data', (d) => { if (!proxy.drop) upstream.write(d); });
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `nats://127.0.0.1:${server.address().port}`;
  proxy.cut = () => { for (const s of sockets) s.destroy(); };
  proxy.close = () => { proxy.cut(); server.close(); };
  return proxy;
}

/** Resolves once GET /readyz of node answers 200 (database and NATS reachable). */
export async function nodeReady(node, ms = 15_000) {
  await waitFor(async () => (await request(`${node.url}/readyz`)).status === 200, ms,
    `node ${node.url} to be ready`);
}

/**
 * Starts n nodes (one after the other: the first creates the schema and the secrets key)
 * on one database and one NATS server, each with env on top of the cluster's own settings
 * (envOf(i) for node i, if given). Resolves to {nodes, nats, dbUrl, addNode(env)} once
 * every node is ready; addNode starts one more node the same way.
 */
export async function startCluster({ n = 2, env = {}, envOf = () => ({}) } = {}) {
  const nats = startNats();
  const shared = tempDir('cairn-cluster-');
  const dbUrl = await databaseUrl(shared);
  const common = {
    CAIRN_DATABASE_URL: dbUrl, CAIRN_NATS_URL: nats.url, CAIRN_CLUSTER_NODES: String(n),
    CAIRN_CLUSTER_NAME: 'cairn', // one cluster: not natsEnv()'s name per server
    CAIRN_SECRETS_KEY_FILE: path.join(shared, 'secrets.key'), ...env,
  };
  const nodes = [];
  const addNode = async (extra = {}) => {
    const node = await startServer({ env: { ...common, ...extra } });
    await nodeReady(node);
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < n; i++) await addNode(envOf(i));
  return { nodes, nats, dbUrl, addNode };
}
