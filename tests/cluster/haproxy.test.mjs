// The HAProxy that scripts/cluster configures: round robin over the ready nodes, each
// answer naming its node; a stopped node is taken out and one started again is used again;
// with no node ready, its own problem+json 503 with Retry-After (a client retries as it
// would after a node's 503).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TOKEN, assertProblem, request, startCluster, waitFor } from './lib/cluster.mjs';

let cluster;
after(() => cluster?.stop());

const get = (c) => request(`${c.url}/api/v1/notes?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } });

test('round robin over ready nodes; no node ready: a 503 problem with Retry-After', async () => {
  cluster = await startCluster();
  const c = cluster;
  const seen = [];
  for (let i = 0; i < 6; i++) {
    const r = await get(c);
    assert.equal(r.status, 200, r.text);
    seen.push(r.headers['x-cairn-node']);
  }
  assert.deepEqual([...new Set(seen)].sort(), ['node1', 'node2', 'node3'], `answers from every node: ${seen}`);

  for (const x of c.nodes) await c.stopNode(x.n);
  for (const x of c.nodes) await c.waitHaproxy(x.n, 'DOWN');
  const r = await get(c);
  assertProblem(r, 503);
  assert.equal(r.headers['retry-after'], '1');

  await c.startNode(2);
  await c.waitHaproxy(2, 'UP');
  await waitFor(async () => (await get(c)).headers['x-cairn-node'] === 'node2', 10_000, 'node 2 to answer again');
});
