// Three nodes started together (as scripts/cluster starts them) on a fresh database: each
// migration is applied once, by one of them, while the others wait for it under the
// advisory lock and find it done; all three come up ready.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS, request, startCluster } from './lib/cluster.mjs';

test('three nodes starting together on a fresh database apply each migration once', async () => {
  for (let round = 0; round < 2; round++) {
    const c = await startCluster();
    try {
      const rows = await c.query('SELECT module, version, name FROM schema_migrations');
      assert.deepEqual(rows.map((r) => `${r.module}/${r.version} ${r.name}`).sort(), [...MIGRATIONS].sort(),
        'every migration recorded once');
      // which node applied what: the nodes' own log lines
      const applied = c.nodes.flatMap((x) => c.logs(x.n)
        .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('migration applied '))
        .map((l) => l.msg.slice('migration applied '.length)));
      assert.deepEqual(applied.sort(), [...MIGRATIONS].sort(), 'each migration applied by exactly one node');
      for (const x of c.nodes) {
        const r = await request(`${x.url}/readyz`, { keepAlive: false });
        assert.equal(r.status, 200, `node ${x.n}: ${r.text}`);
      }
    } finally {
      await c.stop();
    }
  }
});
