// Job queue end to end, through the notes.analyse demo job: a job runs once and its
// effect shows; a job whose note vanished is retried, becomes a dead letter (API, CLI,
// metrics) and can be retried; a kill -9 while jobs are in flight loses no acknowledged
// job and applies each effect exactly once after the restart; GET /api/v1/jobs is tenant
// scoped, needs a token and the right permission, and names the bad query parameter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  TOKEN, UUID_RE, api, assertProblem, dbQuery, dbValue, request, runCli, runCliWithInput, startServer,
  stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
// fast retries, so a job dies within a second; workers look for due jobs every 100 ms
const FAST = { CAIRN_JOBS_BACKOFF_MS: '50', CAIRN_JOBS_BACKOFF_MAX_MS: '200', CAIRN_JOBS_POLL_MS: '100' };

let dataDir;
let srv;
let c; // the operator (bootstrap token), in its own tenant

async function token(tenant, email) {
  const r = await request(`${srv.url}/api/v1/auth/login`, { method: 'POST', body: { tenant, email, password: PW } });
  assert.equal(r.status, 200, `${email}: ${r.text}`);
  return r.json.access_token;
}

function metric(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const analyse = (client, id) => client.post(`/api/v1/notes/${id}/analyse`);

async function noteOf(client, id) {
  const r = await client.get(`/api/v1/notes/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

before(async () => {
  dataDir = tempDir('cairn-e2e-jobs-');
  for (const slug of ['ja', 'jb']) {
    const r = await runCli(['tenant', 'create', '--slug', slug, '--name', slug, '--data', dataDir]);
    assert.equal(r.code, 0, r.stderr);
  }
  for (const [t, who, role] of [['ja', 'adm', 'admin'], ['ja', 'mem', 'member'], ['ja', 'vie', 'viewer'], ['jb', 'own', 'owner']]) {
    const r = await runCliWithInput(['user', 'create', '--tenant', t, '--email', `${who}@j.example`,
      '--role', role, '--password-stdin', '--data', dataDir], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  srv = await startServer({ dataDir, env: FAST });
  c = api(srv.url);
});

describe('notes.analyse', () => {
  test('runs once; asking again for the same version adds nothing; a new version runs again', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'three small words', body: 'and\tfour  more\nhere ☕' });
    assert.equal(note.words, 0);
    assert.equal(note.analyses, 0);
    const listed = (await c.get('/api/v1/notes?limit=200')).json.items.find((n) => n.id === note.id);
    assert.equal(listed.analyses, 0); // the list may now be cached: the job's event must invalidate it
    const res = await analyse(c, note.id);
    assert.equal(res.status, 202, res.text);
    assert.match(res.json.job_id, UUID_RE);
    const done = await waitFor(async () => {
      const n = await noteOf(c, note.id);
      return n.analyses === 1 && n;
    }, 5000, 'the analysis');
    assert.equal(done.words, 8);
    const relisted = (await c.get('/api/v1/notes?limit=200')).json.items.find((n) => n.id === note.id);
    assert.deepEqual(relisted, done, 'the list shows the analysis (note.updated was published)');
    const job = await c.get(`/api/v1/jobs/${res.json.job_id}`);
    assert.equal(job.status, 200, job.text);
    assert.equal(job.json.name, 'notes.analyse');
    assert.equal(job.json.state, 'done');
    assert.equal(job.json.attempts, 1);
    assert.equal(job.json.max_attempts, 3);
    assert.deepEqual(job.json.payload, { note_id: note.id });
    assert.equal(job.json.unique_key, `${note.id}:${note.updated_at}`);
    assert.equal(typeof job.json.finished_at, 'number');

    const again = await analyse(c, note.id);
    assert.equal(again.status, 202);
    assert.equal(again.json.job_id, res.json.job_id, 'the same version: the same job');

    const upd = await c.patch(`/api/v1/notes/${note.id}`, { body: 'one' });
    assert.equal(upd.status, 200);
    const third = await analyse(c, note.id);
    assert.notEqual(third.json.job_id, res.json.job_id);
    const n = await waitFor(async () => {
      const x = await noteOf(c, note.id);
      return x.analyses === 2 && x;
    }, 5000, 'the second analysis');
    assert.equal(n.words, 4);
    assert.equal((await noteOf(c, note.id)).analyses, 2, 'the repeated request ran nothing');
  });

  test('a missing note is 404 and enqueues nothing', async () => {
    const before = (await c.get('/api/v1/jobs')).json.counts;
    assertProblem(await analyse(c, '01a20282-0000-7000-8000-000000000000'), 404);
    assertProblem(await analyse(c, 'not-a-uuid'), 404);
    assert.deepEqual((await c.get('/api/v1/jobs')).json.counts, before);
  });
});

describe('dead letters', () => {
  test('a job whose note vanished fails 3 times, is dead, shows everywhere and can be retried', async () => {
    // phase 1: no workers, so the note can be deleted before its job runs
    const dir = tempDir('cairn-e2e-jobs-dead-');
    let s = await startServer({ dataDir: dir, env: { ...FAST, CAIRN_JOBS_WORKERS: '0' } });
    let k = api(s.url);
    const { json: note } = await k.post('/api/v1/notes', { title: 'short-lived' });
    const { json: { job_id: jobId } } = await analyse(k, note.id);
    assert.equal((await k.delete(`/api/v1/notes/${note.id}`)).status, 204);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await k.get(`/api/v1/jobs/${jobId}`)).json.state, 'queued', 'jobs.workers=0 runs nothing');
    assert.equal(await s.stop(), 0);

    // phase 2: workers run it, it fails three times and dies
    s = await startServer({ dataDir: dir, env: FAST });
    k = api(s.url);
    const dead = await waitFor(async () => {
      const j = (await k.get(`/api/v1/jobs/${jobId}`)).json;
      return j.state === 'dead' && j;
    }, 10_000, 'the job to die');
    assert.equal(dead.attempts, 3);
    assert.match(dead.last_error, /no longer exists/);
    const list = await k.get('/api/v1/jobs?state=dead&name=notes.analyse');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items.map((j) => j.id), [jobId]);
    assert.equal(list.json.counts.dead, 1);
    assert.equal(list.json.counts.queued, 0);
    assert.equal((await k.get('/api/v1/jobs?state=done')).json.items.length, 0);
    const m = (await request(`${s.url}/metrics`)).text;
    assert.equal(metric(m, 'cairn_jobs{name="notes.analyse",state="dead"}'), 1);
    assert.equal(metric(m, 'cairn_job_failures_total{name="notes.analyse"}'), 3);
    assert.equal(metric(m, 'cairn_job_dead_total{name="notes.analyse"}'), 1);
    assert.equal(metric(m, 'cairn_job_run_seconds_count{name="notes.analyse"}'), 3);

    // the CLI sees it, alongside the running server
    const cliList = await runCli(['jobs', 'list', '--state', 'dead', '--data', dir]);
    assert.equal(cliList.code, 0, cliList.stderr);
    assert.match(cliList.stdout, new RegExp(`${jobId}\\s+dead\\s+notes\\.analyse\\s+3/3`));
    assert.match(cliList.stdout, /no longer exists/);
    const shown = await runCli(['jobs', 'show', jobId, '--data', dir]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).state, 'dead');
    assert.equal(JSON.parse(shown.stdout).tenant_id, '00000000-0000-7000-8000-000000000001');
    assert.equal((await runCli(['jobs', 'show', '01a20282-0000-7000-8000-000000000000', '--data', dir])).code, 66, 'no such job');

    // cairn jobs retry: queued again with its attempts reset; the workers run it (and it dies again)
    const before = dead.updated_at;
    const retried = await runCli(['jobs', 'retry', jobId, '--data', dir]);
    assert.equal(retried.code, 0, retried.stderr);
    const again = await waitFor(async () => {
      const j = (await k.get(`/api/v1/jobs/${jobId}`)).json;
      return j.state === 'dead' && j.updated_at > before && j;
    }, 10_000, 'the retried job to run and die again');
    assert.equal(again.attempts, 3);
    assert.equal(metric((await request(`${s.url}/metrics`)).text, 'cairn_job_failures_total{name="notes.analyse"}'), 6);

    // the API's retry: 200 and queued; a job that is not dead is 409, and so is the CLI's
    const apiRetry = await k.post(`/api/v1/jobs/${jobId}/retry`);
    assert.equal(apiRetry.status, 200, apiRetry.text);
    assert.ok(['queued', 'running', 'dead'].includes(apiRetry.json.state));
    assert.equal(apiRetry.json.id, jobId);
    const { json: alive } = await k.post('/api/v1/notes', { title: 'alive' });
    const { json: { job_id: okJob } } = await analyse(k, alive.id);
    await waitFor(async () => (await k.get(`/api/v1/jobs/${okJob}`)).json.state === 'done', 5000, 'the ok job');
    assertProblem(await k.post(`/api/v1/jobs/${okJob}/retry`), 409);
    assert.equal((await runCli(['jobs', 'retry', okJob, '--data', dir])).code, 1);
    assertProblem(await k.post('/api/v1/jobs/01a20282-0000-7000-8000-000000000000/retry'), 404);

    // purge removes finished jobs only
    await waitFor(async () => (await k.get(`/api/v1/jobs/${jobId}`)).json.state === 'dead', 10_000, 'dead again');
    const purged = await runCli(['jobs', 'purge', '--state', 'dead', '--data', dir]);
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stdout, /^1 dead jobs purged/);
    assertProblem(await k.get(`/api/v1/jobs/${jobId}`), 404);
    assert.equal((await k.get(`/api/v1/jobs/${okJob}`)).status, 200, 'a done job stays');
    for (const bad of [['jobs'], ['jobs', 'list', '--state', 'bogus'], ['jobs', 'purge', '--state', 'queued'],
      ['jobs', 'list', '--limit', '0'], ['jobs', 'show'], ['jobs', 'retry', 'a', 'b']])
      assert.equal((await runCli([...bad, '--data', dir])).code, 64, bad.join(' '));
    await s.stop();
  });
});

describe('crash', () => {
  test('kill -9 with jobs in flight: after a restart every job runs, each effect exactly once', async () => {
    const N = 2000;
    const dir = tempDir('cairn-e2e-jobs-kill-');
    const env = { CAIRN_JOBS_LEASE_MS: '1500', CAIRN_JOBS_POLL_MS: '100', CAIRN_JOBS_WORKERS: '1' };
    // 1. no workers: notes, then their analyses; kill -9 half-way through the requests
    let s = await startServer({ dataDir: dir, env: { ...env, CAIRN_JOBS_WORKERS: '0' } });
    let k = api(s.url);
    const ids = [];
    for (let i = 0; i < N; i += 50) {
      const res = await Promise.all(Array.from({ length: 50 }, (_, j) => k.post('/api/v1/notes', { title: `n${i + j}`, body: 'a b c' })));
      for (const r of res) {
        assert.equal(r.status, 201);
        ids.push(r.json.id);
      }
    }
    const acked = new Map();
    let next = 0;
    let killed = null;
    const worker = async () => {
      while (next < N) {
        const id = ids[next++];
        try {
          const r = await request(`${s.url}/api/v1/notes/${id}/analyse`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
          if (r.status === 202) acked.set(id, r.json.job_id);
        } catch { /* the server went away: not acknowledged */ }
        if (acked.size >= N / 2 && !killed) killed = s.kill9();
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    assert.ok(killed, 'the server was killed');
    await killed;
    const jobs = new Set((await dbQuery(dir, "SELECT id FROM jobs WHERE state = 'queued'")).map((j) => j.id));
    for (const [note, job] of acked) assert.ok(jobs.has(job), `acknowledged job ${job} of note ${note} exists`);

    // 2. every note asks (again): the unique key makes the acknowledged ones no-ops
    s = await startServer({ dataDir: dir, env: { ...env, CAIRN_JOBS_WORKERS: '0' } });
    k = api(s.url);
    for (let i = 0; i < N; i += 50) {
      const res = await Promise.all(ids.slice(i, i + 50).map((id) => analyse(k, id)));
      res.forEach((r, j) => {
        assert.equal(r.status, 202, r.text);
        const before = acked.get(ids[i + j]);
        if (before) assert.equal(r.json.job_id, before, 'the acknowledged job, not a new one');
      });
    }
    assert.deepEqual((await k.get('/api/v1/jobs?limit=1')).json.counts, { queued: N, running: 0, done: 0, dead: 0 });
    assert.equal(await s.stop(), 0);

    // 3. a worker starts on the backlog and is killed -9 at once, mid-way; again until a
    // kill caught claimed (running) jobs
    const claimedAtKill = new Set();
    for (let round = 0; round < 8 && claimedAtKill.size === 0; round++) {
      s = await startServer({ dataDir: dir, env });
      await s.kill9();
      for (const { id } of await dbQuery(dir, "SELECT id FROM jobs WHERE state = 'running'")) claimedAtKill.add(id);
      if (await dbValue(dir, "SELECT count(*) FROM jobs WHERE state <> 'done'") === 0) break;
    }
    assert.ok(claimedAtKill.size > 0, 'a kill -9 caught a worker with claimed jobs');

    // 4. restart: the leases run out, the claimed jobs run again; all drain
    s = await startServer({ dataDir: dir, env });
    k = api(s.url);
    const counts = await waitFor(async () => {
      const x = (await k.get('/api/v1/jobs?limit=1')).json.counts;
      return x.queued === 0 && x.running === 0 && x;
    }, 30_000, 'the queue to drain after the restart');
    assert.deepEqual(counts, { queued: 0, running: 0, done: N, dead: 0 });
    assert.equal(await dbValue(dir, 'SELECT count(*) FROM notes WHERE analyses <> 1'), 0,
      'every note analysed exactly once');
    assert.equal(await dbValue(dir, 'SELECT count(*) FROM notes WHERE words <> 4'), 0);
    const list = [...claimedAtKill].map((id) => `'${id}'`).join(',');
    assert.equal(await dbValue(dir, `SELECT count(*) FROM jobs WHERE id IN (${list}) AND state = 'done' AND attempts >= 2`),
      claimedAtKill.size, 'the jobs claimed by a killed worker ran again');
    await s.stop();
  });
});

describe('access', () => {
  let adm;
  let mem;
  let vie;
  let own;
  let jobOfA;
  before(async () => {
    adm = api(srv.url, await token('ja', 'adm@j.example'));
    mem = api(srv.url, await token('ja', 'mem@j.example'));
    vie = api(srv.url, await token('ja', 'vie@j.example'));
    own = api(srv.url, await token('jb', 'own@j.example'));
    const { json: note } = await adm.post('/api/v1/notes', { title: 'tenant a' });
    jobOfA = (await analyse(adm, note.id)).json.job_id;
    await waitFor(async () => (await adm.get(`/api/v1/jobs/${jobOfA}`)).json?.state === 'done', 5000, 'the job');
  });

  test('a tenant sees only its own jobs', async () => {
    const a = await adm.get('/api/v1/jobs');
    assert.equal(a.status, 200);
    assert.deepEqual(a.json.items.map((j) => j.id), [jobOfA]);
    assert.deepEqual(a.json.counts, { queued: 0, running: 0, done: 1, dead: 0 });
    assert.equal('tenant_id' in a.json.items[0], false);
    const b = await own.get('/api/v1/jobs');
    assert.equal(b.status, 200);
    assert.deepEqual(b.json.items, []);
    assert.deepEqual(b.json.counts, { queued: 0, running: 0, done: 0, dead: 0 });
    assertProblem(await own.get(`/api/v1/jobs/${jobOfA}`), 404);
    assertProblem(await own.post(`/api/v1/jobs/${jobOfA}/retry`), 404);
    // and the operator's tenant holds none of them
    assert.ok(!(await c.get('/api/v1/jobs?limit=200')).json.items.some((j) => j.id === jobOfA));
  });

  test('401 without a token; jobs.manage (owners and admins) for lists, jobs and retries', async () => {
    const anon = api(srv.url, null);
    assertProblem(await anon.get('/api/v1/jobs'), 401);
    assertProblem(await anon.get(`/api/v1/jobs/${jobOfA}`), 401);
    assertProblem(await anon.post(`/api/v1/jobs/${jobOfA}/retry`), 401);
    assert.match(assertProblem(await vie.get('/api/v1/jobs'), 403).detail, /jobs\.manage/);
    assertProblem(await mem.get(`/api/v1/jobs/${jobOfA}`), 403);
    assert.equal((await adm.get(`/api/v1/jobs/${jobOfA}`)).status, 200);
    const p = assertProblem(await mem.post(`/api/v1/jobs/${jobOfA}/retry`), 403);
    assert.match(p.detail, /jobs\.manage/);
    assertProblem(await vie.post(`/api/v1/jobs/${jobOfA}/retry`), 403);
    assertProblem(await adm.post(`/api/v1/jobs/${jobOfA}/retry`), 409); // allowed, but it is done
  });

  test('bad query parameters name the field', async () => {
    const fields = (r) => (r.json?.errors ?? []).map((e) => e.field);
    for (const [q, field] of [['state=bogus', 'state'], ['limit=0', 'limit'], ['limit=201', 'limit'],
      ['limit=x', 'limit'], ['cursor=nope', 'cursor'], ['name=', 'name'], [`name=${'x'.repeat(101)}`, 'name'],
      ['colour=red', 'colour'], ['state=dead&state=done', 'state']]) {
      const res = await adm.get(`/api/v1/jobs?${q}`);
      assertProblem(res, 422);
      assert.deepEqual(fields(res), [field], q);
    }
    assertProblem(await adm.get('/api/v1/jobs/not-a-uuid'), 404);
  });

  test('cursor pagination walks every job once, newest first', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const { json: note } = await adm.post('/api/v1/notes', { title: `p${i}` });
      ids.unshift((await analyse(adm, note.id)).json.job_id);
    }
    ids.push(jobOfA);
    const seen = [];
    let cursor = null;
    do {
      const r = await adm.get(`/api/v1/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.items.length <= 2);
      seen.push(...r.json.items.map((j) => j.id));
      cursor = r.json.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, ids);
  });
});
