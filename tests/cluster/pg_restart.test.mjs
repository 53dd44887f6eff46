// PostgreSQL stopped and started again under load through HAProxy: while it is away every
// failed request is a 503 with Retry-After (from a node that lost its connection, or from
// HAProxy once no node is ready), never a 500, a 502 or a dropped connection; afterwards
// the same node processes, not restarted, serve reads and writes again, and every write
// that was acknowledged is stored once.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TOKEN, assertProblem, load, request, startCluster, waitFor } from './lib/cluster.mjs';

let cluster;
let done = false; // ends the clients' loops, also when an assertion failed half-way
after(() => {
  done = true;
  return cluster?.stop();
});

test('a PostgreSQL restart under load: 503 with Retry-After, then recovery without restarting the nodes', async () => {
  cluster = await startCluster();
  const c = cluster;
  const pids = c.nodes.map((x) => x.pid);
  const auth = { authorization: `Bearer ${TOKEN}` };
  let phase = 'before';
  const answers = []; // {phase, status, retryAfter, type, node, error}
  const acked = new Map(); // title -> id
  let next = 0;

  const one = async (client) => {
    const title = `pg-${client}-${next++}`;
    const write = next % 2 === 0;
    try {
      const res = write
        ? await request(`${c.url}/api/v1/notes`, { method: 'POST', headers: auth, body: { title, body: 'x' } })
        : await request(`${c.url}/api/v1/notes?limit=5`, { headers: auth });
      answers.push({
        phase, status: res.status, retryAfter: res.headers['retry-after'], node: res.headers['x-cairn-node'],
        type: res.headers['content-type'], text: res.status >= 300 ? res.text : undefined,
      });
      if (write && res.status === 201) acked.set(title, res.json.id);
    } catch (e) {
      answers.push({ phase, error: e.message });
    }
    // a client told to retry later does so, a little later
    if (phase === 'down') await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const clients = load(4, one, () => done, 120_000, 'the clients');
  const ok = (ph) => answers.filter((a) => a.phase === ph && a.status >= 200 && a.status < 300).length;
  await waitFor(() => ok('before') >= 100, 30_000, '100 answers before the restart');

  phase = 'down';
  await c.pgHalt();
  // a node asked directly: its own 503, problem+json, Retry-After
  const direct = await request(`${c.node(2).url}/api/v1/notes`,
    { method: 'POST', headers: auth, body: { title: 'direct', body: '' }, timeoutMs: 5000 })
    .catch((e) => assert.fail(`a write to a node whose database is down gets no answer (${e.message})`));
  assertProblem(direct, 503);
  assert.equal(direct.headers['retry-after'], '1');
  // HAProxy stops sending to nodes whose /readyz fails: its own 503, also with Retry-After
  for (const x of c.nodes) await c.waitHaproxy(x.n, 'DOWN');
  await waitFor(() => answers.some((a) => a.phase === 'down' && a.status === 503 && !a.node), 10_000, 'a 503 from HAProxy');
  const proxied = await request(`${c.url}/api/v1/notes`, { headers: auth });
  assertProblem(proxied, 503);
  assert.equal(proxied.headers['retry-after'], '1');

  phase = 'after';
  await c.pgResume();
  const seen = new Set();
  await waitFor(() => {
    for (const a of answers) if (a.phase === 'after' && a.status < 300) seen.add(a.node);
    return ok('after') >= 100 && seen.size === c.nodes.length;
  }, 60_000, '100 answers after the restart, from every node');
  done = true;
  await clients;

  // only 503s with Retry-After while it was away; nothing failed before
  const failed = answers.filter((a) => a.error || a.status >= 300);
  assert.deepEqual(failed.filter((a) => a.phase === 'before'), [], 'no failure before the restart');
  for (const a of failed) {
    assert.equal(a.status, 503, `a failure other than 503: ${JSON.stringify(a)}`);
    assert.equal(a.retryAfter, '1', `a 503 without Retry-After: ${JSON.stringify(a)}`);
    assert.match(a.type, /^application\/problem\+json/);
  }
  assert.ok(failed.some((a) => a.phase === 'down'), 'requests failed while the database was away');

  // the same processes recovered; HAProxy uses all of them again
  for (const [i, x] of c.nodes.entries()) assert.equal(x.pid, pids[i], `node ${x.n} was not restarted`);
  for (const x of c.nodes) await c.waitHaproxy(x.n, 'UP');
  const rows = await c.query("SELECT title, count(*) AS n, min(id) AS id FROM notes WHERE title LIKE 'pg-%' GROUP BY title");
  const stored = new Map(rows.map((r) => [r.title, r]));
  assert.deepEqual(rows.filter((r) => r.n !== 1), [], 'no write stored twice');
  for (const [title, id] of acked) assert.equal(stored.get(title)?.id, id, `acknowledged write ${title} is stored`);
});
