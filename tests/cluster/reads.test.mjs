// A write through one node is read through every node. Without a bus the response cache is
// off (scripts/cluster --no-nats turns it off: a node would never hear of the others'
// writes), so the next read anywhere sees the write. With NATS each node keeps its cache
// and the write's tag invalidation travels over the bus: every node serves the write as
// soon as that message arrives (milliseconds), and never the stale answer after it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { api, startCluster, waitFor } from './lib/cluster.mjs';

let cluster;
after(() => cluster?.stop());

async function rounds(c, seen) {
  const clients = c.nodes.map((x) => api(x.url));
  for (let round = 0; round < 6; round++) {
    // every node has answered the list (and may keep the answer) before the write
    for (const k of clients) assert.equal((await k.get('/api/v1/notes?limit=3')).status, 200);
    const writer = clients[round % clients.length];
    const r = await writer.post('/api/v1/notes', { title: `read-${round}`, body: '' });
    assert.equal(r.status, 201, r.text);
    for (const [i, k] of clients.entries()) {
      const what = `node ${i + 1} lists the note written on node ${(round % clients.length) + 1}`;
      await seen(async () => (await k.get('/api/v1/notes?limit=3')).json.items[0]?.id === r.json.id, what);
      assert.equal((await k.get(`/api/v1/notes/${r.json.id}`)).status, 200);
      // once seen, never the stale answer again
      assert.equal((await k.get('/api/v1/notes?limit=3')).json.items[0]?.id, r.json.id, what);
    }
  }
}

test('without a bus (no cache): a write on one node is in the next read on every node, lists included', async () => {
  cluster = await startCluster({ nats: false });
  await rounds(cluster, async (check, what) => assert.ok(await check(), what));
  await cluster.stop();
  cluster = null;
});

test('with NATS (each node caches): a write on one node reaches every node\'s reads once its invalidation arrives', async () => {
  cluster = await startCluster();
  await rounds(cluster, (check, what) => waitFor(check, 5000, what));
});
