// The hash-chained audit log stays one valid chain when three nodes append at once: every
// write's entry is there, the sequence has no gap, and `cairn audit verify` (which walks
// the whole chain) finds it intact.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TOKEN, request, startCluster } from './lib/cluster.mjs';

let cluster;
after(() => cluster?.stop());

test('three nodes appending concurrently keep one valid audit chain', async () => {
  cluster = await startCluster();
  const c = cluster;
  const before = Number(await c.value('SELECT count(*) AS n FROM audit_log'));
  const PER_CLIENT = 40;
  const CLIENTS = 4; // per node, each straight to its node so all three append at once
  const ids = [];
  await Promise.all(c.nodes.flatMap((x) => Array.from({ length: CLIENTS }, async (_, i) => {
    for (let j = 0; j < PER_CLIENT; j++) {
      const r = await request(`${x.url}/api/v1/notes`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: { title: `a-${x.n}-${i}-${j}`, body: '' },
      });
      assert.equal(r.status, 201, r.text);
      ids.push(r.json.id);
    }
  })));
  const total = c.nodes.length * CLIENTS * PER_CLIENT;
  assert.equal(ids.length, total);

  // one entry per write, each naming its note
  const objects = await c.query("SELECT object FROM audit_log WHERE action = 'POST /api/v1/notes'");
  assert.deepEqual(objects.map((o) => o.object).sort(), [...ids].sort(), 'one entry per write');
  // one sequence, without a gap or a fork
  const seq = (await c.query('SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS n, count(DISTINCT hash) AS hashes FROM audit_log'))[0];
  assert.equal(seq.n, before + total);
  assert.equal(seq.lo, 1);
  assert.equal(seq.hi, seq.n, 'no gap in the sequence');
  assert.equal(seq.hashes, seq.n, 'no two entries alike');

  const v = await c.cli(['audit', 'verify'], { timeoutMs: 30_000 });
  assert.equal(v.code, 0, `cairn audit verify: ${v.stdout}${v.stderr}`);
});
