// Jobs across nodes, with notes.analyse (its effect counts: analyses + 1 commits with the
// job's done mark): a node killed -9 while it runs jobs leaves them claimed; their lease
// runs out and other nodes finish them; every job ends done exactly once, every note is
// analysed exactly once, and nothing is dead.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TOKEN, api, request, startCluster, waitFor } from './lib/cluster.mjs';

let cluster;
after(() => cluster?.stop());

const N = 1500;
// a short lease so a dead node's jobs come back soon; workers look for due jobs often
const JOBS = { CAIRN_JOBS_LEASE_MS: '1500', CAIRN_JOBS_POLL_MS: '100', CAIRN_JOBS_BACKOFF_MS: '50' };

test('kill -9 of the node running jobs: the leases expire, other nodes finish them, each exactly once', async () => {
  // no node runs jobs at first: the queue fills through HAProxy, then node 1 alone runs it
  cluster = await startCluster({ env: { ...JOBS, CAIRN_JOBS_WORKERS: '0' } });
  const c = cluster;
  const k = api(c.url);
  const ids = [];
  for (let i = 0; i < N; i += 50) {
    const res = await Promise.all(Array.from({ length: 50 }, (_, j) => k.post('/api/v1/notes', { title: `job ${i + j}`, body: 'one two three' })));
    for (const r of res) {
      assert.equal(r.status, 201, r.text);
      ids.push(r.json.id);
    }
  }
  for (let i = 0; i < N; i += 50) {
    const res = await Promise.all(ids.slice(i, i + 50).map((id) =>
      request(`${c.url}/api/v1/notes/${id}/analyse`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })));
    for (const r of res) assert.equal(r.status, 202, r.text);
  }
  assert.equal(await c.value("SELECT count(*) AS n FROM jobs WHERE name = 'notes.analyse' AND state = 'queued'"), N);

  // node 1 with one worker, killed -9 as soon as it holds claimed jobs (state running);
  // again if they were done by the time the kill landed
  let orphans = [];
  for (let round = 0; round < 10 && orphans.length === 0; round++) {
    await c.stopNode(1);
    await c.startNode(1, { CAIRN_JOBS_WORKERS: '1' });
    await waitFor(async () => (await c.value("SELECT count(*) AS n FROM jobs WHERE state = 'running'")) > 0,
      30_000, 'node 1 to claim jobs', 5);
    await c.kill9(1);
    orphans = (await c.query("SELECT id FROM jobs WHERE state = 'running'")).map((r) => r.id);
  }
  assert.ok(orphans.length > 0, 'a kill -9 caught node 1 with claimed jobs');
  const doneAtKill = await c.value("SELECT count(*) AS n FROM jobs WHERE state = 'done'");
  assert.ok(doneAtKill < N, 'jobs were left to run');

  // nodes 2 and 3 with workers, side by side: they drain the queue and, once the leases
  // have run out, the dead node's jobs
  for (const n of [2, 3]) {
    await c.stopNode(n);
    await c.startNode(n, { CAIRN_JOBS_WORKERS: '2' });
  }
  const counts = await waitFor(async () => {
    const rows = await c.query("SELECT state, count(*) AS n FROM jobs WHERE name = 'notes.analyse' GROUP BY state");
    const x = Object.fromEntries(rows.map((r) => [r.state, r.n]));
    return !x.queued && !x.running && x;
  }, 120_000, 'the queue to drain on the two other nodes', 200);
  assert.deepEqual(counts, { done: N }, 'every job done, none dead');

  // exactly once: each note's analysis committed once, with the right count
  const twice = await c.query('SELECT n.analyses, j.attempts, count(*) AS notes FROM notes n'
    + " JOIN jobs j ON j.payload LIKE '%' || n.id || '%' WHERE n.analyses <> 1 GROUP BY 1, 2 ORDER BY 1, 2");
  assert.deepEqual(twice, [], 'every note analysed exactly once (rows: analyses, its job\'s attempts, notes)');
  assert.equal(await c.value('SELECT count(*) AS n FROM notes WHERE words <> 5'), 0, 'the analysis counted the words');
  // the killed node's jobs ran again elsewhere (a second attempt, after their lease)
  const list = orphans.map((id) => `'${id}'`).join(',');
  assert.equal(await c.value(`SELECT count(*) AS n FROM jobs WHERE id IN (${list}) AND state = 'done' AND attempts >= 2`),
    orphans.length, 'the jobs claimed by the killed node were finished by another');
});
