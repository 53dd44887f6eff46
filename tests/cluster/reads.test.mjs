// A write through one node is read through every node at once: nothing a node keeps in
// its own memory (the response cache) answers with what another node's write changed.
// Without a bus scripts/cluster turns the response cache off for that reason.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { api, startCluster } from './lib/cluster.mjs';

let cluster;
after(() => cluster?.stop());

test('a write on one node is in the next read on every node, lists included', async () => {
  cluster = await startCluster();
  const c = cluster;
  const clients = c.nodes.map((x) => api(x.url));
  for (let round = 0; round < 6; round++) {
    // every node has answered the list (and may keep the answer) before the write
    for (const k of clients) assert.equal((await k.get('/api/v1/notes?limit=3')).status, 200);
    const writer = clients[round % clients.length];
    const r = await writer.post('/api/v1/notes', { title: `read-${round}`, body: '' });
    assert.equal(r.status, 201, r.text);
    for (const [i, k] of clients.entries()) {
      const list = await k.get('/api/v1/notes?limit=3');
      assert.equal(list.json.items[0]?.id, r.json.id, `node ${i + 1} lists the note written on node ${(round % clients.length) + 1}`);
      assert.equal((await k.get(`/api/v1/notes/${r.json.id}`)).status, 200);
    }
  }
});
