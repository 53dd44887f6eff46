// kill -9 of one node of three while several clients write through HAProxy: every write
// that was acknowledged (201) is in the database exactly once, none twice; once HAProxy has
// marked the dead node down every request succeeds on the other two; the node started
// again is used again.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TOKEN, load, request, startCluster, waitFor } from './lib/cluster.mjs';

let cluster;
let done = false; // ends the clients' loops, also when an assertion failed half-way
after(() => {
  done = true;
  return cluster?.stop();
});

test('kill -9 of a node during acknowledged writes: each is present once; the others keep serving', async () => {
  cluster = await startCluster();
  const c = cluster;
  const acked = new Map(); // title -> {id, node}
  const failures = []; // {phase, what: the status or the client's error}
  let phase = 'before'; // 'killed' once the node is killed, 'down' once HAProxy says so
  const afterDown = { ok: 0, failed: [] };
  let next = 0;

  const write = async (client) => {
    const title = `w-${client}-${next++}`;
    let res;
    try {
      res = await request(`${c.url}/api/v1/notes`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: { title, body: 'kept once' },
      });
    } catch (e) {
      failures.push({ phase, what: e.code ?? e.message });
      if (phase === 'down') afterDown.failed.push(e.message);
      return;
    }
    if (res.status !== 201) failures.push({ phase, what: res.status });
    if (res.status === 201) {
      assert.equal(res.json.title, title);
      acked.set(title, { id: res.json.id, node: res.headers['x-cairn-node'], phase });
      if (phase === 'down') afterDown.ok++;
    } else if (phase === 'down') {
      afterDown.failed.push(`${res.status} from ${res.headers['x-cairn-node'] ?? 'HAProxy'}: ${res.text}`);
    }
  };
  const writers = load(6, write, () => done, 120_000, 'the writers');

  const byNode = (node, ph) => [...acked.values()].filter((a) => a.node === node && (!ph || a.phase === ph)).length;
  await waitFor(() => byNode('node2') >= 50 && acked.size >= 150, 60_000, 'writes acknowledged by every node');
  phase = 'killed';
  await c.kill9(2);
  await c.waitHaproxy(2, 'DOWN');
  phase = 'down';
  await waitFor(() => afterDown.ok >= 300 || afterDown.failed.length > 0, 60_000, '300 writes after the node was marked down');
  done = true;
  await writers;

  // every acknowledged write, once, with the id it was acknowledged with; nothing twice
  const rows = await c.query("SELECT title, count(*) AS n, min(id) AS id FROM notes WHERE title LIKE 'w-%' GROUP BY title");
  const stored = new Map(rows.map((r) => [r.title, r]));
  const twice = rows.filter((r) => r.n !== 1);
  assert.deepEqual(twice, [], 'no write stored twice');
  for (const [title, a] of acked) {
    const row = stored.get(title);
    assert.ok(row, `acknowledged write ${title} (node ${a.node}, ${a.phase}) is stored`);
    assert.equal(row.id, a.id, `${title} has the id it was acknowledged with`);
  }
  assert.ok(byNode('node2', 'before') > 0, 'the killed node had acknowledged writes');

  // the two others carried on: nothing failed once HAProxy had marked the dead node down
  assert.deepEqual(afterDown.failed, [], 'every write after the node was marked down succeeded');
  assert.ok(afterDown.ok >= 300);
  assert.equal(byNode('node2', 'down'), 0, 'no answer from the dead node');
  assert.ok(byNode('node1', 'down') > 0 && byNode('node3', 'down') > 0, 'both other nodes answered');
  // only requests in flight at the kill may fail: HAProxy answers 502 or, for a request it
  // had sent on a reused connection, closes the client's connection (as the node did)
  assert.deepEqual(failures.filter((f) => f.phase !== 'killed'), [], 'no failure before the kill');
  for (const f of failures) assert.ok([502, 'ECONNRESET'].includes(f.what), `a failure: ${f.what}`);

  // the node started again serves again
  await c.startNode(2);
  await c.waitHaproxy(2, 'UP');
  const seen = new Set();
  await waitFor(async () => {
    const r = await request(`${c.url}/api/v1/notes?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, r.text);
    seen.add(r.headers['x-cairn-node']);
    return seen.has('node2');
  }, 20_000, 'an answer from the restarted node');
});
