// The routes the web console's screens need beyond the older ones: audit chain
// verification, the permission catalogue, the operator's status page, metrics broken down
// by segment and one customer's sentiment trend. Each is checked for its permission and
// for never answering with another tenant's data.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  api, assertProblem, dbExec, dbValue, request, runCli, sleep, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

const PW = 'steady-Koala-71-bramble';
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const iso = (ms) => new Date(ms).toISOString();
let srv;
let data;
const who = {}; // tenant slug -> { owner, member, viewer } clients

async function login(tenant, email) {
  const r = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant, email, password: PW },
  });
  assert.equal(r.status, 200, r.text);
  return api(srv.url, r.json.access_token);
}

async function tenant(slug) {
  const t = await api(srv.url).post('/api/v1/tenants', {
    slug, name: slug, owner_email: `owner@${slug}.test`, owner_password: PW,
  });
  assert.equal(t.status, 201, t.text);
  const owner = await login(slug, `owner@${slug}.test`);
  const out = { id: t.json.id, owner };
  for (const role of ['member', 'viewer']) {
    const r = await owner.post('/api/v1/users', { email: `${role}@${slug}.test`, role, password: PW });
    assert.equal(r.status, 201, r.text);
    out[role] = await login(slug, `${role}@${slug}.test`);
  }
  return out;
}

before(async () => {
  data = tempDir('cairn-e2e-console-api-');
  srv = await startServer({ dataDir: data });
  who.ca = await tenant('ca');
  who.cb = await tenant('cb');
});

describe('audit chain verification', () => {
  test('intact: counts only the tenant\'s entries; admins only', async () => {
    const { owner, member, viewer } = who.ca;
    assert.equal((await owner.put(`/api/v1/customers/${crypto.randomUUID()}`, { segment: 'x' })).status, 200);
    const mine = Number(await dbValue(data, `SELECT count(*) FROM audit_log WHERE tenant_id = '${who.ca.id}'`));
    assert.ok(mine > 0);
    const r = await owner.get('/api/v1/audit/verify');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.intact, true);
    assert.equal(r.json.entries, mine, 'the tenant\'s entries, not the whole log\'s');
    assert.equal(r.json.broken_seq, null);
    assert.equal(r.json.reason, null);
    assert.equal(r.headers['cache-control'], 'no-store');
    assertProblem(await member.get('/api/v1/audit/verify'), 403);
    assertProblem(await viewer.get('/api/v1/audit/verify'), 403);
    assertProblem(await api(srv.url, null).get('/api/v1/audit/verify'), 401);
  });

  const verify = async (c) => {
    const r = await c.get('/api/v1/audit/verify');
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const countOf = async (t, extra = '') => Number(await dbValue(data, `SELECT count(*) FROM audit_log WHERE tenant_id = '${t}'${extra}`));

  test('an entry changed after the verified part: its tenant learns where, the other only that the chain breaks', async () => {
    await waitFor(async () => (await verify(who.cb.owner)).intact, 10_000, 'intact');
    // a new entry, past what the last walk verified, then changed
    assert.equal((await who.cb.owner.put(`/api/v1/customers/${crypto.randomUUID()}`, { segment: 'y' })).status, 200);
    const seq = Number(await dbValue(data, `SELECT max(seq) FROM audit_log WHERE tenant_id = '${who.cb.id}'`));
    const before = await countOf(who.cb.id, ` AND seq < ${seq}`);
    const status = Number(await dbValue(data, `SELECT status FROM audit_log WHERE seq = ${seq}`));
    await dbExec(data, `UPDATE audit_log SET status = 299 WHERE seq = ${seq}`);
    try {
      let b; // a result a few seconds old may be answered again: poll
      await waitFor(async () => (b = await verify(who.cb.owner)).intact === false, 15_000, 'the break found');
      assert.equal(b.broken_seq, seq);
      assert.match(b.reason, new RegExp(`entry ${seq} was changed`));
      assert.equal(b.entries, before, 'the entries before the break');

      const a = await verify(who.ca.owner);
      assert.equal(a.intact, false);
      assert.equal(a.broken_seq, null, 'another tenant\'s entry is not named');
      assert.doesNotMatch(a.reason, /\d/);
      const cli = await runCli(['audit', 'verify', '--data', data]);
      assert.match(cli.stderr, new RegExp(`entry ${seq} was changed`), 'the CLI agrees');
    } finally {
      await dbExec(data, `UPDATE audit_log SET status = ${status} WHERE seq = ${seq}`);
    }
    await waitFor(async () => (await verify(who.cb.owner)).intact, 15_000, 'intact once restored');
  });

  test('concurrent verifications share the walk and each tenant gets its own count', async () => {
    const want = { [who.ca.id]: await countOf(who.ca.id), [who.cb.id]: await countOf(who.cb.id) };
    for (let round = 0; round < 2; round++) {
      await sleep(3500); // past the reuse of the last result: these start (and wait for) a walk
      const owners = Array.from({ length: 40 }, (_, i) => (i % 2 ? who.ca : who.cb));
      const answers = await Promise.all(owners.map((t) => t.owner.get('/api/v1/audit/verify')));
      answers.forEach((r, i) => {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.intact, true);
        assert.equal(r.json.entries, want[owners[i].id], `answer ${i}`);
        assert.equal(r.headers['cache-control'], 'no-store');
      });
    }
  });

  test('an older entry changed after it was verified: found by the full walk (the CLI), not each request', async () => {
    await waitFor(async () => (await verify(who.cb.owner)).intact, 15_000, 'intact');
    const seq = Number(await dbValue(data, `SELECT min(seq) FROM audit_log WHERE tenant_id = '${who.cb.id}'`));
    const status = Number(await dbValue(data, `SELECT status FROM audit_log WHERE seq = ${seq}`));
    await dbExec(data, `UPDATE audit_log SET status = 299 WHERE seq = ${seq}`);
    try {
      await sleep(3500); // a new walk: it goes on from the newest verified entry
      const b = await verify(who.cb.owner);
      assert.equal(b.intact, true, 'as documented: verified entries are walked again at start and hourly');
      const cli = await runCli(['audit', 'verify', '--data', data]);
      assert.match(cli.stderr, new RegExp(`entry ${seq} was changed`), 'the CLI walks the whole chain');
    } finally {
      await dbExec(data, `UPDATE audit_log SET status = ${status} WHERE seq = ${seq}`);
    }
  });
});

describe('permission catalogue', () => {
  test('every permission with its description and the built-in roles that hold it', async () => {
    const r = await who.ca.viewer.get('/api/v1/permissions');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.next_cursor, null);
    const byName = Object.fromEntries(r.json.items.map((p) => [p.name, p]));
    for (const p of r.json.items) {
      assert.ok(p.description.length > 0, p.name);
      assert.ok(p.module.length > 0, p.name);
    }
    assert.deepEqual(byName['audit.manage'].roles, ['owner', 'admin']);
    assert.deepEqual(byName['insights.read'].roles, ['owner', 'admin', 'member', 'viewer']);
    assert.deepEqual(byName['platform.tenants'].roles, []);
    assert.deepEqual(byName['system.status'].roles, ['owner', 'admin']);
    // the roles list and the catalogue say the same about every built-in role
    const roles = (await who.ca.viewer.get('/api/v1/roles')).json.items.filter((x) => x.builtin);
    for (const role of roles) {
      const held = r.json.items.filter((p) => p.roles.includes(role.name)).map((p) => p.name).sort();
      assert.deepEqual(held, [...role.permissions].sort(), role.name);
    }
    // and it matches what the OpenAPI document declares per operation
    const doc = (await request(`${srv.url}/api/openapi.json`)).json;
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops))
        if (op['x-permission']) assert.ok(byName[op['x-permission']], op['x-permission']);
    assertProblem(await api(srv.url, null).get('/api/v1/permissions'), 401);
  });
});

describe('system status', () => {
  test('readiness, version, requests, latency, jobs and realtime for owners and admins', async () => {
    const { owner, member } = who.ca;
    const first = await owner.get('/api/v1/system/status');
    assert.equal(first.status, 200, first.text);
    const s = first.json;
    assert.equal(s.ready, true);
    assert.equal(s.ready_detail, null);
    assert.equal(first.headers['cache-control'], 'no-store');
    const ready = (await request(`${srv.url}/readyz`)).json;
    assert.equal(s.migrations, ready.migrations);
    assert.match(s.version, /^\d+\.\d+\.\d+/);
    assert.ok(s.uptime_ms >= 0 && s.started_at <= Date.now());
    assert.ok(s.requests.total > 0 && s.requests.window_total <= s.requests.total);
    for (const k of ['queued', 'running', 'dead']) assert.ok(Number.isInteger(s.jobs[k]), k);
    assert.equal(typeof s.realtime.connections, 'number');
    assertProblem(await member.get('/api/v1/system/status'), 403);
    assertProblem(await who.ca.viewer.get('/api/v1/system/status'), 403);

    // requests made now show in the totals, the window and the latency quantiles
    for (let i = 0; i < 20; i++) await request(`${srv.url}/healthz`);
    let later; // the summary is recomputed at most once a second
    await waitFor(async () => {
      later = (await owner.get('/api/v1/system/status')).json;
      return later.requests.total >= s.requests.total + 20;
    }, 10_000, 'the requests counted');
    assert.ok(later.latency_ms.p50 !== null && later.latency_ms.p50 > 0);
    assert.ok(later.latency_ms.p50 <= later.latency_ms.p90 && later.latency_ms.p90 <= later.latency_ms.p99);
    assert.ok(later.requests.per_second > 0);
    assert.equal(later.started_at, s.started_at);

    // a dead job shows in its tenant's count and the operator's, never another tenant's
    const jobsOf = async (c) => (await c.get('/api/v1/system/status')).json.jobs;
    const [inB, all] = [await jobsOf(who.cb.owner), await jobsOf(api(srv.url))];
    const jid = crypto.randomUUID();
    await dbExec(data, `INSERT INTO jobs (id, tenant_id, name, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
      VALUES ('${jid}', '${who.cb.id}', 'insights.patterns', '{}', 'dead', 5, 5, 0, 0, 0)`);
    await waitFor(async () => (await jobsOf(who.cb.owner)).dead === inB.dead + 1, 10_000, 'the dead job counted');
    assert.equal((await jobsOf(api(srv.url))).dead, all.dead + 1, 'the operator sees every tenant\'s');
    assert.equal((await jobsOf(owner)).dead, s.jobs.dead, 'another tenant\'s job is not counted');
  });

  test('the process summary is shared for a second; not ready: jobs are null', async () => {
    const { owner } = who.ca;
    await dbExec(data, "DELETE FROM schema_migrations WHERE module = 'insights' AND version = 3");
    try {
      await waitFor(async () => (await owner.get('/api/v1/system/status')).json.ready === false, 10_000, 'not ready');
      const r = await owner.get('/api/v1/system/status');
      assert.equal(r.status, 200, r.text);
      assert.match(r.json.ready_detail, /pending/);
      assert.equal(r.json.jobs, null);
    } finally {
      await dbExec(data, `INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ('insights', 3, 'search_merge_in_steps', 0)`);
    }
    await waitFor(async () => (await owner.get('/api/v1/system/status')).json.ready === true, 10_000, 'ready again');
    // one answer right after another carries the same totals (the first request is not in
    // them): the summary is computed at most once a second
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const a = await owner.get('/api/v1/system/status');
      const b = await owner.get('/api/v1/system/status');
      if (Date.now() - t0 >= 900) continue; // a slow machine: the pair may straddle a recompute
      if (a.json.requests.total === b.json.requests.total) return;
    }
    assert.fail('every pair of status answers had different totals: nothing is shared');
  });
});

describe('insights for the dashboard', () => {
  const base = Date.UTC(2026, 2, 2, 12);
  const gold = crypto.randomUUID();
  const plain = crypto.randomUUID();
  const elsewhere = crypto.randomUUID();

  before(async () => {
    const { owner } = who.ca;
    assert.equal((await owner.put(`/api/v1/customers/${gold}`, { segment: 'gold' })).status, 200);
    const rows = [
      [gold, 0, 'Wonderful service, thank you so much!'],
      [gold, 1, 'Terrible, the parcel arrived broken and nobody answers.'],
      [gold, DAY, 'Great help from the team, lovely.'],
      [plain, 2, 'Awful experience, very disappointed.'],
    ];
    for (const [customer, at, content] of rows) {
      const r = await owner.post('/api/v1/interactions', {
        customer_id: customer, timestamp: iso(base + at * 1), channel: 'chat', event_type: 'message', content,
      });
      assert.equal(r.status, 201, r.text);
    }
    // the other tenant has a customer in a segment of the same name, and one with gold's id
    const b = who.cb.owner;
    assert.equal((await b.put(`/api/v1/customers/${elsewhere}`, { segment: 'gold' })).status, 200);
    assert.equal((await b.put(`/api/v1/customers/${gold}`, { segment: 'silver' })).status, 200);
    for (const customer of [elsewhere, gold])
      assert.equal((await b.post('/api/v1/interactions', {
        customer_id: customer, timestamp: iso(base), channel: 'email', event_type: 'message', content: 'Bad.',
      })).status, 201);
    await waitFor(async () => {
      const r = await owner.get(`/api/v1/insights?from=${base - 1}&to=${base + 2 * DAY}&limit=100`);
      return r.json.items.length === 4 && r.json.items.every((i) => i.processed_at !== null);
    }, 20_000, 'four analysed interactions');
  });

  test('metrics?by_segment=true breaks the range down by segment, the tenant\'s own only', async () => {
    const q = `from=${base - HOUR}&to=${base + 2 * DAY}`;
    const r = await who.ca.member.get(`/api/v1/insights/metrics?${q}&by_segment=true`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.interactions, 4);
    const seg = Object.fromEntries(r.json.by_segment.map((x) => [x.segment, x]));
    assert.deepEqual(Object.keys(seg).sort(), ['gold', 'null']);
    assert.equal(r.json.by_segment[0].segment, 'gold', 'largest first');
    assert.equal(seg.gold.interactions, 3);
    assert.equal(seg.gold.analysed, 3);
    assert.equal(seg.gold.positive + seg.gold.neutral + seg.gold.negative, 3);
    assert.equal(seg.gold.positive, 2);
    assert.equal(seg.null.interactions, 1);
    assert.equal(seg.null.negative, 1);
    assert.ok(seg.gold.average_compound > seg.null.average_compound);
    // without the flag the answer keeps its old shape
    assert.equal((await who.ca.member.get(`/api/v1/insights/metrics?${q}`)).json.by_segment, undefined);
    // a segment filter applies to the breakdown too
    const only = await who.ca.member.get(`/api/v1/insights/metrics?${q}&by_segment=true&segments=gold`);
    assert.deepEqual(only.json.by_segment.map((x) => x.segment), ['gold']);
    // the other tenant sees its own segments only
    const b = await who.cb.member.get(`/api/v1/insights/metrics?${q}&by_segment=true`);
    const bseg = Object.fromEntries(b.json.by_segment.map((x) => [x.segment, x.interactions]));
    assert.deepEqual(bseg, { gold: 1, silver: 1 });
    assertProblem(await who.ca.member.get(`/api/v1/insights/metrics?${q}&by_segment=yes`), 422);
    // the breakdown and the totals beside it count the same whole 15-minute slots
    const edge = await who.ca.member.get(`/api/v1/insights/metrics?from=${base + 1}&to=${base + 2 * DAY}&by_segment=true`);
    assert.equal(edge.status, 200, edge.text);
    assert.equal(edge.json.interactions, 4, 'the slot holding base is counted whole');
    assert.equal(edge.json.by_segment.reduce((n, x) => n + x.interactions, 0), 4, 'the rows add up to the total');
    // a segment filter counts that segment's customers only, tiles included
    const goldOnly = await who.ca.member.get(`/api/v1/insights/metrics?${q}&segments=gold`);
    assert.equal(goldOnly.json.interactions, 3);
    assert.equal(goldOnly.json.by_channel.chat, 3);
    assert.equal(goldOnly.json.sentiment.positive, 2);
    assert.equal(goldOnly.json.active_customers, 1);
  });

  test('a segment change moves the customer\'s counts, exactly, even with ingest in between', async () => {
    const { owner, member } = who.ca;
    const at = Date.UTC(2026, 2, 20, 9);
    const q = `from=${at - HOUR}&to=${at + DAY}`;
    const x = crypto.randomUUID();
    const ingest = async (n, content) => {
      for (let i = 0; i < n; i++)
        assert.equal((await owner.post('/api/v1/interactions', {
          customer_id: x, timestamp: iso(at + i * HOUR), channel: i % 2 ? 'web' : 'email', event_type: 'message', content,
        })).status, 201);
    };
    const segments = async () => {
      const r = await member.get(`/api/v1/insights/metrics?${q}&by_segment=true`);
      assert.equal(r.status, 200, r.text);
      return { total: r.json.interactions, rows: Object.fromEntries(r.json.by_segment.map((s) => [s.segment, s])) };
    };
    const settled = async (want, what) => {
      let last;
      await waitFor(async () => {
        last = await segments();
        const got = Object.fromEntries(Object.entries(last.rows).map(([k, v]) => [k, [v.interactions, v.analysed]]));
        return JSON.stringify(got) === JSON.stringify(want);
      }, 20_000, what).catch((e) => assert.fail(`${e.message}: ${JSON.stringify(last)}`));
      return last;
    };
    await ingest(3, 'Lovely, thank you!');
    await settled({ null: [3, 3] }, 'three analysed interactions without a segment');
    assert.equal((await owner.put(`/api/v1/customers/${x}`, { segment: 'bronze' })).status, 200);
    await ingest(2, 'Dreadful.'); // before or after the move: both must end up under bronze
    const bronze = await settled({ bronze: [5, 5] }, 'the five under bronze');
    assert.equal(bronze.rows.bronze.positive, 3);
    assert.equal(bronze.rows.bronze.negative, 2);
    assert.equal(bronze.total, 5);
    const filtered = await member.get(`/api/v1/insights/metrics?${q}&segments=bronze`);
    assert.deepEqual([filtered.json.interactions, filtered.json.by_channel.email, filtered.json.by_channel.web], [5, 3, 2]);
    const wide = 'ü'.repeat(64); // 64 characters, 128 bytes
    assert.equal((await owner.put(`/api/v1/customers/${x}`, { segment: wide })).status, 200);
    await settled({ [wide]: [5, 5] }, 'moved to the wide segment, bronze empty and gone');
    assert.equal((await member.get(`/api/v1/insights/metrics?${q}&segments=bronze`)).json.interactions, 0);
    const w = await member.get(`/api/v1/insights/metrics?${q}&segments=${encodeURIComponent(`${wide},bronze`)}`);
    assert.equal(w.json.interactions, 5, w.text);
    // a change that keeps the segment moves nothing; clearing it counts the customer as none
    assert.equal((await owner.put(`/api/v1/customers/${x}`, { email: 'x@example.test' })).status, 200);
    assert.equal((await owner.put(`/api/v1/customers/${x}`, { segment: null })).status, 200);
    const none = await settled({ null: [5, 5] }, 'back to no segment');
    assert.equal(none.rows.null.positive, 3);
  });

  test('sentiment-trends?customer_id= is one customer\'s trend, in the tenant\'s buckets', async () => {
    const q = `from=${iso(base - 12 * HOUR)}&to=${iso(base + 2 * DAY - 12 * HOUR)}&group_by=day&timezone=UTC`;
    const r = await who.ca.viewer.get(`/api/v1/insights/sentiment-trends?${q}&customer_id=${gold}`);
    assert.equal(r.status, 200, r.text);
    const days = r.json.buckets.filter((x) => x.interactions > 0);
    assert.deepEqual(days.map((x) => x.interactions), [2, 1]);
    assert.equal(days[0].start, Date.UTC(2026, 2, 2));
    assert.equal(days[0].positive + days[0].negative + days[0].neutral, 2);
    assert.equal(days[1].positive, 1);
    assert.ok(days[1].average_compound > 0);
    // the tenant-wide trend counts the other customer too
    const all = await who.ca.viewer.get(`/api/v1/insights/sentiment-trends?${q}`);
    assert.equal(all.json.buckets.reduce((n, x) => n + x.interactions, 0), 4);
    // the channel filter applies; the same id in the other tenant is that tenant's customer
    const web = await who.ca.viewer.get(`/api/v1/insights/sentiment-trends?${q}&customer_id=${gold}&channels=web`);
    assert.equal(web.json.buckets.reduce((n, x) => n + x.interactions, 0), 0);
    const b = await who.cb.viewer.get(`/api/v1/insights/sentiment-trends?${q}&customer_id=${gold}`);
    assert.equal(b.json.buckets.reduce((n, x) => n + x.interactions, 0), 1);
    assertProblem(await who.ca.viewer.get(`/api/v1/insights/sentiment-trends?${q}&customer_id=nope`), 422);
  });
});

describe('tenant switcher', () => {
  const cookiesOf = (res) => {
    const raw = res.headers['set-cookie'] ?? [];
    const out = {};
    for (const c of Array.isArray(raw) ? raw : [raw]) {
      const [pair] = c.split('; ');
      const i = pair.indexOf('=');
      out[pair.slice(0, i)] = pair.slice(i + 1);
    }
    return out;
  };
  const jar = (c) => Object.entries(c).map(([k, v]) => `${k}=${v}`).join('; ');
  const signIn = (tenant, email, extra = {}) => request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant, email, password: PW, ...extra },
  });
  const sw = (token, body, headers = {}) => request(`${srv.url}/api/v1/auth/switch`, {
    method: 'POST', body, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const EMAIL = 'member@ca.test'; // a member of ca, made an admin of cb below
  let uid;

  before(async () => {
    const added = await who.cb.owner.post('/api/v1/users', { email: EMAIL, role: 'admin' });
    assert.equal(added.status, 201, added.text);
    uid = added.json.id;
    // a third tenant the account is not in
    assert.equal((await api(srv.url).post('/api/v1/tenants', { slug: 'cc', name: 'Secret C' })).status, 201);
  });

  test('lists the account\'s tenants and no other; a credential without a session gets 404', async () => {
    const s = await signIn('ca', EMAIL);
    const r = await api(srv.url, s.json.access_token).get('/api/v1/auth/tenants');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.items.map((t) => [t.slug, t.name, t.role, t.current]),
      [['ca', 'ca', 'member', true], ['cb', 'cb', 'admin', false]]);
    assert.equal(r.json.items[0].id, who.ca.id);
    assert.equal(r.json.next_cursor, null);
    assertProblem(await api(srv.url).get('/api/v1/auth/tenants'), 404);
    const key = await who.ca.owner.post('/api/v1/api-keys', { name: 'k', permissions: ['self.read'] });
    assertProblem(await api(srv.url, key.json.key).get('/api/v1/auth/tenants'), 404);
  });

  test('token mode: the refresh token moves the session; old tokens stop; audited in both', async () => {
    const s = (await signIn('ca', EMAIL)).json;
    // the access token alone buys nothing elsewhere
    assert.equal(assertProblem(await sw(s.access_token, { tenant: 'cb' }), 401).detail,
      'give refresh_token, or send the session cookies');
    // another session's refresh token does not either (and is not spent)
    const other = (await signIn('ca', EMAIL)).json;
    assertProblem(await sw(s.access_token, { tenant: 'cb', refresh_token: other.refresh_token }), 401);
    // a tenant the account is not in, or none at all: one answer, nothing revealed
    const no1 = assertProblem(await sw(s.access_token, { tenant: 'cc', refresh_token: s.refresh_token }), 404);
    const no2 = assertProblem(await sw(s.access_token, { tenant: 'zz', refresh_token: s.refresh_token }), 404);
    assert.equal(no1.detail, no2.detail);
    assert.equal(assertProblem(await sw(s.access_token, { tenant: 'ca', refresh_token: s.refresh_token }), 422)
      .errors[0].field, 'tenant');

    const moved = await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.headers['cache-control'], 'no-store');
    const b = api(srv.url, moved.json.access_token);
    const me = (await b.get('/api/v1/users/me')).json;
    assert.equal(me.tenant.slug, 'cb');
    assert.equal(me.role, 'admin');
    assert.equal((await b.get('/api/v1/audit')).status, 200, 'an admin there');
    assertProblem(await api(srv.url, s.access_token).get('/api/v1/users/me'), 401);
    // the other session of the account in ca goes on, its refresh token unspent
    assert.equal((await api(srv.url, other.access_token).get('/api/v1/users/me')).status, 200);
    const otherRefreshed = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: other.refresh_token } });
    assert.equal(otherRefreshed.status, 200, otherRefreshed.text);
    // the new refresh token works, in cb
    const ref = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: moved.json.refresh_token } });
    assert.equal(ref.status, 200, ref.text);
    assert.equal((await api(srv.url, ref.json.access_token).get('/api/v1/users/me')).json.tenant.slug, 'cb');

    const inB = (await who.cb.owner.get(`/api/v1/audit?action=auth.switch&actor=${uid}`)).json.items;
    assert.equal(inB.length, 1);
    const inA = (await who.ca.owner.get(`/api/v1/audit?action=${encodeURIComponent('POST /api/v1/auth/switch')}&actor=${uid}`)).json.items;
    assert.equal(inA.length, 1);
    assert.equal((await who.ca.owner.get('/api/v1/audit?action=auth.switch')).json.items.length, 0,
      'ca learns nothing of cb');
  });

  test('a copied refresh token coming back after a switch revokes the moved session', async () => {
    const s = (await signIn('ca', EMAIL)).json;
    const moved = await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token });
    assert.equal(moved.status, 200, moved.text);
    assert.equal((await api(srv.url, moved.json.access_token).get('/api/v1/users/me')).status, 200);
    const reused = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: s.refresh_token } });
    assertProblem(reused, 401);
    assertProblem(await api(srv.url, moved.json.access_token).get('/api/v1/users/me'), 401);
  });

  test('another session\'s refresh token is refused unread: an earlier one revokes nothing', async () => {
    const s = (await signIn('ca', EMAIL)).json;
    const other = (await signIn('ca', EMAIL)).json;
    const rotated = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: other.refresh_token } });
    assert.equal(rotated.status, 200, rotated.text);
    // other.refresh_token is a rotated generation now: spent, it would revoke its session
    const p = assertProblem(await sw(s.access_token, { tenant: 'cb', refresh_token: other.refresh_token }), 401);
    assert.equal(p.detail, 'the refresh token is not this session\'s');
    assert.equal((await api(srv.url, rotated.json.access_token).get('/api/v1/users/me')).status, 200,
      'the other session goes on');
    const again = await request(`${srv.url}/api/v1/auth/refresh`, { method: 'POST', body: { refresh_token: rotated.json.refresh_token } });
    assert.equal(again.status, 200, again.text);
    // the caller's own session did not move and its token is unspent
    assert.equal((await api(srv.url, s.access_token).get('/api/v1/users/me')).json.tenant.slug, 'ca');
    assert.equal((await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token })).status, 200);
  });

  test('cookie mode: the switch checks the CSRF token even beside a Bearer token', async () => {
    const login = await signIn('ca', EMAIL, { cookie: true });
    const c = cookiesOf(login);
    // the access token as a Bearer header, the refresh token from its cookie: still the CSRF check
    const p = await sw(c.cairn_at, { tenant: 'cb' }, { cookie: `cairn_rt=${c.cairn_rt}` });
    assertProblem(p, 403);
    const wrong = await sw(c.cairn_at, { tenant: 'cb' }, { cookie: `cairn_rt=${c.cairn_rt}`, 'x-csrf-token': 'x'.repeat(43) });
    assertProblem(wrong, 403);
    const me = await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: jar(c) } });
    assert.equal(me.json.tenant.slug, 'ca', 'not moved');
    const ok = await sw(c.cairn_at, { tenant: 'cb' }, { cookie: `cairn_rt=${c.cairn_rt}`, 'x-csrf-token': c.cairn_csrf });
    assert.equal(ok.status, 200, ok.text);
  });

  test('cookie mode: cookies in, cookies out, CSRF required, no token in the body', async () => {
    const login = await signIn('ca', EMAIL, { cookie: true });
    assert.equal(login.status, 200, login.text);
    const c = cookiesOf(login);
    const cookie = jar(c);
    assertProblem(await sw(null, { tenant: 'cb' }, { cookie }), 403);
    const moved = await sw(null, { tenant: 'cb' }, { cookie, 'x-csrf-token': c.cairn_csrf });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.access_token, undefined);
    assert.equal(moved.json.refresh_token, undefined);
    const nc = { ...c, ...cookiesOf(moved) };
    assert.notEqual(nc.cairn_at, c.cairn_at);
    const me = await request(`${srv.url}/api/v1/users/me`, { headers: { cookie: jar(nc) } });
    assert.equal(me.json.tenant.slug, 'cb');
    assertProblem(await request(`${srv.url}/api/v1/users/me`, { headers: { cookie } }), 401);
  });

  test('a realtime stream of the session ends when it moves', async () => {
    const s = (await signIn('ca', EMAIL)).json;
    const http = await import('node:http');
    const sse = http.get(`${srv.url}/api/v1/realtime/sse?channel=notes`, { headers: { authorization: `Bearer ${s.access_token}` } });
    let status = 0;
    const ended = new Promise((resolve) => sse.on('response', (res) => {
      status = res.statusCode; res.resume(); res.on('end', resolve); res.on('close', resolve);
    }));
    await waitFor(async () => status === 200, 5000, 'the stream to open');
    assert.equal((await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token })).status, 200);
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 10_000))]);
  });

  test('a realtime WebSocket of the session is closed when it moves', async () => {
    const s = (await signIn('ca', EMAIL)).json;
    const ws = new WebSocket(srv.url.replace('http', 'ws') + '/api/v1/realtime', { headers: { authorization: `Bearer ${s.access_token}` } });
    const msgs = [];
    let closed = null;
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.on('close', (code) => { closed = code; });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    await waitFor(async () => msgs.some((m) => m.op === 'ready'), 5000, 'ready');
    assert.equal((await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token })).status, 200);
    await waitFor(async () => closed !== null, 10_000, 'the socket to close');
    assert.equal(closed, 4401);
  });

  test('the target\'s MFA policy: a challenge when the session has no second factor', async () => {
    assert.equal((await who.cb.owner.patch('/api/v1/tenant', { mfa_required_for_admins: true })).status, 200);
    {
      // without a second factor enrolled the session moves and the policy confines it
      let s = (await signIn('ca', EMAIL)).json;
      const bare = await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token });
      assert.equal(bare.status, 200, bare.text);
      assert.equal(bare.json.mfa_required, undefined);
      assertProblem(await api(srv.url, bare.json.access_token).get('/api/v1/audit'), 403);

      // enrolled (in a session opened before): the switch answers login's challenge and
      // the session ends; mfa/verify opens the one in cb
      s = (await signIn('ca', EMAIL)).json;
      const me = api(srv.url, s.access_token);
      const enrol = await me.post('/api/v1/auth/mfa/enroll');
      assert.equal(enrol.status, 200, enrol.text);
      const { base32Decode, totp } = await import('./lib/totp.mjs');
      const secret = base32Decode(enrol.json.secret);
      assert.equal((await me.post('/api/v1/auth/mfa/confirm', { code: totp(secret, Date.now() - 30_000) })).status, 200);
      const ch = await sw(s.access_token, { tenant: 'cb', refresh_token: s.refresh_token });
      assert.equal(ch.status, 200, ch.text);
      assert.equal(ch.json.mfa_required, true);
      assert.equal(ch.json.access_token, undefined);
      assertProblem(await me.get('/api/v1/users/me'), 401);
      const v = await request(`${srv.url}/api/v1/auth/mfa/verify`, {
        method: 'POST', body: { challenge: ch.json.challenge, code: totp(secret) },
      });
      assert.equal(v.status, 200, v.text);
      const inB = api(srv.url, v.json.access_token);
      assert.equal((await inB.get('/api/v1/users/me')).json.tenant.slug, 'cb');
      assert.equal((await inB.get('/api/v1/audit')).status, 200, 'with the second factor');

      // a session that gave the second factor moves without another challenge
      const l = await signIn('ca', EMAIL);
      assert.equal(l.json.mfa_required, true);
        const v2 = await request(`${srv.url}/api/v1/auth/mfa/verify`, {
        method: 'POST', body: { challenge: l.json.challenge, code: totp(secret, Date.now() + 30_000) },
      });
      assert.equal(v2.status, 200, v2.text);
      const back = await sw(v2.json.access_token, { tenant: 'cb', refresh_token: v2.json.refresh_token });
      assert.equal(back.status, 200, back.text);
      const backSession = await api(srv.url, back.json.access_token).get('/api/v1/auth/session');
      assert.equal(backSession.json.mfa, true, backSession.text);
      const audited = await api(srv.url, back.json.access_token).get('/api/v1/audit');
      assert.equal(audited.status, 200, audited.text);
      // (the owner, without a second factor, is confined by the policy now)
      assertProblem(await who.cb.owner.patch('/api/v1/tenant', { mfa_required_for_admins: false }), 403);
      assert.equal((await api(srv.url, back.json.access_token).patch('/api/v1/tenant', { mfa_required_for_admins: false })).status, 200);
    }
  });

  test('a switch into an MFA tenant: cookies cleared in the answer, audited as challenged, the new session keeps the old end', async () => {
    const VIEWER = 'viewer@ca.test';
    const added = await who.cb.owner.post('/api/v1/users', { email: VIEWER, role: 'admin' });
    assert.equal(added.status, 201, added.text);
    const vid = added.json.id;
    const login = await signIn('ca', VIEWER, { cookie: true }); // before MFA: no challenge
    assert.equal(login.status, 200, login.text);
    const c = cookiesOf(login);
    const t = (await signIn('ca', VIEWER)).json;
    const me = api(srv.url, t.access_token);
    const enrol = await me.post('/api/v1/auth/mfa/enroll');
    assert.equal(enrol.status, 200, enrol.text);
    const { base32Decode, totp } = await import('./lib/totp.mjs');
    const secret = base32Decode(enrol.json.secret);
    assert.equal((await me.post('/api/v1/auth/mfa/confirm', { code: totp(secret, Date.now() - 30_000) })).status, 200);
    assert.equal((await who.cb.owner.patch('/api/v1/tenant', { mfa_required_for_admins: true })).status, 200);
    // the cookie session ends in two days (as if signed in 28 days ago)
    const sid = (await request(`${srv.url}/api/v1/auth/session`, { headers: { cookie: jar(c) } })).json.session_id;
    const end = Date.now() + 2 * DAY;
    await dbExec(data, `UPDATE sessions SET expires_at = ${end} WHERE id = '${sid}'`);
    const count = (action) => dbValue(data, `SELECT count(*) FROM audit_log WHERE tenant_id = '${who.cb.id}' AND actor = '${vid}' AND action = '${action}'`).then(Number);

    const ch = await sw(null, { tenant: 'cb' }, { cookie: jar(c), 'x-csrf-token': c.cairn_csrf });
    assert.equal(ch.status, 200, ch.text);
    assert.equal(ch.json.mfa_required, true);
    const cleared = cookiesOf(ch);
    for (const name of ['cairn_at', 'cairn_rt', 'cairn_csrf']) assert.equal(cleared[name], '', `${name} cleared`);
    assert.equal(await count('auth.switch'), 0, 'no switch was made');
    assert.equal(await count('auth.switch.mfa_required'), 1);

    const v = await request(`${srv.url}/api/v1/auth/mfa/verify`, {
      method: 'POST', body: { challenge: ch.json.challenge, code: totp(secret) },
    });
    assert.equal(v.status, 200, v.text);
    const inB = api(srv.url, v.json.access_token);
    const sid2 = (await inB.get('/api/v1/auth/session')).json.session_id;
    assert.notEqual(sid2, sid);
    assert.equal(Number(await dbValue(data, `SELECT expires_at FROM sessions WHERE id = '${sid2}'`)), end,
      'the session ends when the one it replaced would have');
    assert.equal((await inB.get('/api/v1/users/me')).json.tenant.slug, 'cb');
    assert.equal((await inB.patch('/api/v1/tenant', { mfa_required_for_admins: false })).status, 200);
  });
});
