// Customer insights against the real binary: ingest (validation, idempotency, batches with
// invalid neighbours, atomicity across kill -9), sentiment (API and the analysis job),
// live events, filtered lists, trends, metrics, search, customers and behaviour patterns,
// cache consistency and tenant isolation. The spec's properties 2, 4, 5, 6, 9 and 10.
// CSV import and export have their own file (insights_csv.test.mjs).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import WebSocket from 'ws';
import {
  REPO_ROOT, TOKEN, UUID_RE, api, assertProblem, connect, onPostgres, rawExchange, request, runProgram, sleep,
  startServer, stopAllServers, tempDir, waitFor, withTimeout,
} from './lib/server.mjs';

const uuid = () => crypto.randomUUID();
const iso = (ms) => new Date(ms).toISOString();
const HOUR = 3600_000;
const DAY = 24 * HOUR;

function interaction(customer, over = {}) {
  return {
    customer_id: customer, timestamp: iso(Date.now() - HOUR), channel: 'chat',
    event_type: 'message', content: 'The delivery was quick and the support team was lovely.',
    ...over,
  };
}

const fields = (p) => (p.errors ?? []).map((e) => e.field).sort();

async function analysed(c, customer, n, ms = 15_000) {
  let items = [];
  await waitFor(async () => {
    const r = await c.get(`/api/v1/insights?customer_id=${customer}&limit=100`);
    items = r.json.items;
    return items.length >= n && items.every((i) => i.processed_at !== null);
  }, ms, `${n} analysed interactions of ${customer}`);
  return items;
}

async function otherTenant(srv, slug) {
  const pw = 'steady-Koala-71-bramble';
  const t = await api(srv.url).post('/api/v1/tenants', {
    slug, name: slug, owner_email: `owner@${slug}.test`, owner_password: pw,
  });
  assert.equal(t.status, 201, t.text);
  const login = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: slug, email: `owner@${slug}.test`, password: pw },
  });
  assert.equal(login.status, 200, login.text);
  return login.json.access_token;
}

let srv;
let c;

before(async () => {
  const dir = tempDir('cairn-geo-');
  const mmdb = path.join(dir, 'city.mmdb');
  execFileSync('perl', [path.join(REPO_ROOT, 'tests/fixtures/make_geoip.pl'), mmdb]);
  srv = await startServer({
    env: { CAIRN_INSIGHTS_PATTERN_DELAY_S: '0', CAIRN_INSIGHTS_GEOIP_DB: mmdb },
  });
  c = api(srv.url);
});
after(stopAllServers);

describe('ingest validation (property 9)', () => {
  test('a valid interaction is stored (201) with its id, and enriched from its metadata', async () => {
    const cust = uuid();
    const r = await c.post('/api/v1/interactions', interaction(cust, {
      metadata: {
        ip: '81.2.69.160',
        user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      },
    }));
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.id, UUID_RE);
    assert.equal(r.json.duplicate, false);
    const [row] = (await c.get(`/api/v1/insights?customer_id=${cust}`)).json.items;
    assert.equal(row.id, r.json.id);
    assert.deepEqual(row.enrichment, { device: 'desktop', os: 'Windows', client: 'Chrome', country: 'GB', city: 'London' });
    assert.equal(row.metadata.ip, '81.2.69.160');
  });

  const cases = [
    ['customer_id is not a UUID', { customer_id: 'cust-42' }, ['customer_id']],
    ['timestamp in the future', { timestamp: iso(Date.now() + 10 * 60_000) }, ['timestamp']],
    ['timestamp not RFC 3339', { timestamp: '22/11/2026 10:00' }, ['timestamp']],
    ['timestamp a fraction of a millisecond', { timestamp: Date.now() - HOUR + 0.5 }, ['timestamp']],
    ['timestamp milliseconds beyond year 9999', { timestamp: 253402300800000 }, ['timestamp']],
    ['timestamp milliseconds in the future', { timestamp: Date.now() + 10 * 60_000 }, ['timestamp']],
    ['timestamp a boolean', { timestamp: true }, ['timestamp']],
    ['unknown channel', { channel: 'fax' }, ['channel']],
    ['blank event_type', { event_type: '   ' }, ['event_type']],
    ['empty event_type', { event_type: '' }, ['event_type']],
    ['chat without content', { content: undefined }, ['content']],
    ['email with blank content', { channel: 'email', content: ' \n ' }, ['content']],
    ['content over 10 000 characters', { content: 'a'.repeat(10_001) }, ['content']],
    ['content with control characters', { content: 'hi\u0002there' }, ['content']],
    ['metadata not an object', { metadata: [1, 2] }, ['metadata']],
    ['metadata over 16 KiB', { metadata: { blob: 'x'.repeat(17_000) } }, ['metadata']],
    ['unknown field', { colour: 'red' }, ['colour']],
    ['several problems at once', { customer_id: 'x', channel: 'fax', event_type: '' }, ['channel', 'customer_id', 'event_type']],
  ];
  for (const [name, over, expect] of cases) {
    test(`422 naming the field: ${name}`, async () => {
      const cust = uuid();
      const body = interaction(cust, over);
      for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
      const p = assertProblem(await c.post('/api/v1/interactions', body), 422);
      assert.deepEqual(fields(p), expect);
      const stored = await c.get(`/api/v1/insights?customer_id=${cust}`);
      assert.equal(stored.json.items.length, 0, 'nothing stored');
    });
  }

  test('customer ids are UUIDs, compared without regard to case', async () => {
    const cust = uuid();
    assert.equal((await c.post('/api/v1/interactions', interaction(cust.toUpperCase()))).status, 201);
    assert.equal((await c.post('/api/v1/interactions', interaction(cust))).status, 201);
    const p = await c.get(`/api/v1/customers/${cust.toUpperCase()}`);
    assert.equal(p.json.id, cust);
    assert.equal(p.json.interaction_count, 2);
    assert.equal((await c.get(`/api/v1/insights?customer_id=${cust.toUpperCase()}`)).json.items.length, 2);
  });

  test('web and mobile events may come without content; a timestamp 4 minutes ahead is clock skew', async () => {
    const cust = uuid();
    const a = await c.post('/api/v1/interactions', interaction(cust, { channel: 'web', event_type: 'page_view', content: undefined }));
    assert.equal(a.status, 201, a.text);
    const b = await c.post('/api/v1/interactions', interaction(cust, { channel: 'mobile', timestamp: iso(Date.now() + 4 * 60_000) }));
    assert.equal(b.status, 201, b.text);
  });

  test('malformed JSON says where; a wrong content type is 415', async () => {
    const bad = await request(`${srv.url}/api/v1/interactions`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"customer_id": ',
    });
    assertProblem(bad, 400);
    assert.match(bad.json.detail, /line 1/);
    const ct = await request(`${srv.url}/api/v1/interactions`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, body: '{}',
    });
    assertProblem(ct, 415);
  });
});

describe('idempotency', () => {
  test('a retried single ingest with the same Idempotency-Key creates nothing new', async () => {
    const cust = uuid();
    const key = `retry-${uuid()}`;
    const first = await c.post('/api/v1/interactions', interaction(cust), { 'idempotency-key': key });
    assert.equal(first.status, 201, first.text);
    const again = await c.post('/api/v1/interactions', interaction(cust), { 'idempotency-key': key });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.id, first.json.id);
    assert.equal(again.json.duplicate, true);
    const profile = await c.get(`/api/v1/customers/${cust}`);
    assert.equal(profile.json.interaction_count, 1);
  });

  test('a retried batch with the same header key answers with the same ids', async () => {
    const cust = uuid();
    const items = [interaction(cust), interaction(cust, { channel: 'email' }), interaction(cust, { idempotency_key: `own-${uuid()}` })];
    const key = `batch-${uuid()}`;
    const a = await c.post('/api/v1/interactions/batch', { items }, { 'idempotency-key': key });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.created, 3);
    const b = await c.post('/api/v1/interactions/batch', { items }, { 'idempotency-key': key });
    assert.equal(b.json.created, 0);
    assert.equal(b.json.duplicates, 3);
    assert.deepEqual(b.json.results.map((r) => r.id), a.json.results.map((r) => r.id));
    assert.equal((await c.get(`/api/v1/customers/${cust}`)).json.interaction_count, 3);
  });

  test('single ingests of one loop turn: each stored once, one per shared Idempotency-Key', async () => {
    // Written on 24 connections in the same tick, the requests reach each loop together and
    // are stored in one transaction (staged rows, see staging.c), where a shared key must
    // be found among rows not yet inserted.
    const cust = uuid();
    const key = `same-${uuid()}`;
    const word = `kiwi${crypto.randomBytes(6).toString('hex').replace(/[0-9]/g, 'q')}`;
    const sockets = await Promise.all(Array.from({ length: 24 }, () => connect(srv.port)));
    const res = (await Promise.all(sockets.map((socket, i) => {
      const body = JSON.stringify(interaction(cust, { content: `The ${word} order was fine.` }));
      const keyed = i % 3 !== 0 ? `Idempotency-Key: ${key}\r\n` : '';
      const req = `POST /api/v1/interactions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\n${keyed}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      return rawExchange(srv.port, req, { socket });
    }))).map((x) => ({ status: x.responses[0].status, json: JSON.parse(x.responses[0].body) }));
    for (const socket of sockets) socket.destroy();
    const keyed = res.filter((_, i) => i % 3 !== 0);
    assert.equal(keyed.filter((r) => r.status === 201).length, 1, keyed.map((r) => r.status).join());
    assert.ok(keyed.every((r) => r.status === 201 || (r.status === 200 && r.json.duplicate)));
    assert.equal(new Set(keyed.map((r) => r.json.id)).size, 1);
    const plain = res.filter((_, i) => i % 3 === 0);
    assert.ok(plain.every((r) => r.status === 201), plain.map((r) => r.status).join());
    const list = await c.get(`/api/v1/insights?customer_id=${cust}&limit=100`);
    const ids = new Set(list.json.items.map((i) => i.id));
    assert.equal(list.json.items.length, 9);
    assert.equal(ids.size, 9);
    for (const r of res) assert.ok(ids.has(r.json.id), r.json.id);
    assert.equal((await c.get(`/api/v1/customers/${cust}`)).json.interaction_count, 9);
    const hits = await c.get(`/api/v1/interactions/search?q=${word}&limit=100`);
    assert.equal(hits.status, 200, hits.text);
    assert.deepEqual(new Set(hits.json.items.map((h) => h.interaction.id)), ids);
  });

  test('an Idempotency-Key that is too long is refused naming the header', async () => {
    const p = assertProblem(await c.post('/api/v1/interactions', interaction(uuid()), { 'idempotency-key': 'k'.repeat(201) }), 422);
    assert.deepEqual(fields(p), ['Idempotency-Key']);
  });
});

describe('batch ingest', () => {
  test('valid items are stored even when neighbours are invalid; each result names its index', async () => {
    const cust = uuid();
    const items = [];
    for (let i = 0; i < 250; i++) {
      if (i % 50 === 7) items.push(interaction(cust, { channel: 'fax' }));
      else if (i === 120) items.push('not an object');
      else if (i === 199) items.push(interaction('nope', { timestamp: 'soon' }));
      else items.push(interaction(cust, { content: `item ${i} was great` }));
    }
    const r = await c.post('/api/v1/interactions/batch', { items });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.results.length, 250);
    r.json.results.forEach((res, i) => assert.equal(res.index, i));
    const bad = r.json.results.filter((x) => x.errors);
    assert.deepEqual(bad.map((x) => x.index), [7, 57, 107, 120, 157, 199, 207]);
    assert.deepEqual(bad[0].errors, [{ field: 'items[7].channel', message: bad[0].errors[0].message }]);
    assert.deepEqual(bad.find((x) => x.index === 120).errors.map((e) => e.field), ['items[120]']);
    assert.deepEqual(bad.find((x) => x.index === 199).errors.map((e) => e.field).sort(), ['items[199].customer_id', 'items[199].timestamp']);
    assert.equal(r.json.created, 243);
    assert.equal(r.json.failed, 7);
    const all = await c.get(`/api/v1/insights?customer_id=${cust}&include_total=true&limit=1`);
    assert.equal(all.json.total, 243);
    assert.equal((await c.get(`/api/v1/customers/${cust}`)).json.interaction_count, 243);
  });

  // the order is the driver-neutral code's; SQLite triggers observe it
  test('a chunk writes its customers and rollup rows in key order, and so does its analysis',
    { skip: onPostgres && 'observed through SQLite triggers; the order is the same code on both engines' }, async () => {
    // Rows that concurrent writers share (customers, rollup slots) are locked in one order,
    // so two nodes' chunks cannot deadlock on PostgreSQL. Triggers log the order SQLite
    // writes them in (ingest's inserts, the analysis job's score updates); the day is one
    // no other test writes to.
    const sql = (q) => runProgram('sqlite3', ['-cmd', '.timeout 10000', path.join(srv.dataDir, 'cairn.db'), q]);
    const day = Date.parse('2021-03-04T00:00:00Z');
    const q = 15 * 60_000;
    const ok = await sql(`CREATE TABLE e2e_order (n INTEGER PRIMARY KEY, k TEXT);
      CREATE TRIGGER e2e_customers AFTER INSERT ON customers BEGIN
        INSERT INTO e2e_order (k) VALUES ('c ' || NEW.external_id); END;
      CREATE TRIGGER e2e_rollups AFTER INSERT ON insight_rollups
        WHEN NEW.bucket BETWEEN ${day} AND ${day + DAY} BEGIN
        INSERT INTO e2e_order (k) VALUES ('r ' || NEW.channel || ' ' || ((NEW.bucket - ${day}) / ${q})); END;
      CREATE TRIGGER e2e_scores AFTER UPDATE OF sentiment_count ON customers BEGIN
        INSERT INTO e2e_order (k) VALUES ('s ' || NEW.external_id); END;`);
    assert.equal(ok.code, 0, ok.stderr);
    try {
      const custs = [uuid(), uuid(), uuid(), uuid(), uuid()].sort().reverse();
      const slots = [[7, 'web'], [3, 'chat'], [5, 'email'], [1, 'web'], [2, 'chat']];
      const items = custs.map((cust, i) => interaction(cust, {
        timestamp: iso(day + slots[i][0] * q + 1000), channel: slots[i][1],
      }));
      const r = await c.post('/api/v1/interactions/batch', { items });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.created, 5);
      for (const cust of custs) await analysed(c, cust, 1);
      const log = await sql('SELECT k FROM e2e_order ORDER BY n');
      assert.equal(log.code, 0, log.stderr);
      const keys = log.stdout.trim().split('\n');
      const ascending = [...custs].reverse();
      assert.deepEqual(keys.filter((k) => k.startsWith('c ')), ascending.map((x) => `c ${x}`));
      assert.deepEqual(keys.filter((k) => k.startsWith('s ') && custs.includes(k.slice(2))),
        ascending.map((x) => `s ${x}`));
      assert.deepEqual(keys.filter((k) => k.startsWith('r ')), [
        'r * 1', 'r * 2', 'r * 3', 'r * 5', 'r * 7', 'r chat 2', 'r chat 3', 'r email 5', 'r web 1', 'r web 7',
      ]);
    } finally {
      const drop = await sql('DROP TRIGGER e2e_customers; DROP TRIGGER e2e_rollups; DROP TRIGGER e2e_scores;'
        + ' DROP TABLE e2e_order;');
      assert.equal(drop.code, 0, drop.stderr);
    }
  });

  test('more than 1000 items, an empty list or no list is refused as a whole', async () => {
    const one = interaction(uuid());
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/interactions/batch', { items: Array(1001).fill(one) }), 422)), ['items']);
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/interactions/batch', { items: [] }), 422)), ['items']);
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/interactions/batch', {}), 422)), ['items']);
  });
});

// The reference's shares are rounded one by one: they sum to 1 within 3 x 0.0005, or are all
// zero for a text without words (nothing of two or more characters between white space).
function assertShares(s) {
  const sum = s.pos + s.neu + s.neg;
  if (sum === 0) assert.ok(s.compound === 0 && s.confidence === 0, JSON.stringify(s));
  else assert.ok(Math.abs(sum - 1) <= 0.0015 + 1e-9, `sum ${sum}`);
}

describe('sentiment (property 4)', () => {
  const texts = [
    'I love this! Best purchase ever :)', 'This is terrible, I hate it.', 'The parcel arrived on Tuesday.',
    'Not bad at all, but the box was DAMAGED!!!', '', 'meh', 'kind of good', 'the least helpful agent ever',
  ].filter(Boolean);

  test('scores lie in [0, 1], sum to 1 within rounding, confidence is the largest, label follows compound', async () => {
    const r = await c.post('/api/v1/sentiment/batch', { texts });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.results.length, texts.length);
    for (const s of r.json.results) {
      for (const k of ['pos', 'neu', 'neg', 'confidence']) assert.ok(s[k] >= 0 && s[k] <= 1, `${k}=${s[k]}`);
      assertShares(s);
      assert.equal(s.confidence, Math.max(s.pos, s.neu, s.neg));
      assert.ok(s.compound >= -1 && s.compound <= 1);
      const label = s.compound >= 0.05 ? 'positive' : s.compound <= -0.05 ? 'negative' : 'neutral';
      assert.equal(s.label, label);
    }
    assert.equal(r.json.results[0].label, 'positive');
    assert.equal(r.json.results[1].label, 'negative');
    assert.equal(r.json.results[2].label, 'neutral');
    const one = await c.post('/api/v1/sentiment', { text: texts[0] });
    assert.deepEqual(one.json, r.json.results[0]);
  });

  test('property 4 over 256 generated texts: shares in [0, 1] summing to 1 within rounding, confidence the largest', async () => {
    const words = ['good', 'bad', 'not', 'very', 'GREAT', 'awful', 'but', 'kind of', 'the', 'parcel', ':)', ':(', '!!!', '?', 'never', 'so', 'love', 'hate', 'meh', '😀', 'ok', 'x'];
    let seed = 7;
    const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    const texts = Array.from({ length: 256 }, () => Array.from({ length: 1 + rnd(12) }, () => words[rnd(words.length)]).join(' '));
    const r = await c.post('/api/v1/sentiment/batch', { texts });
    assert.equal(r.json.results.length, 256);
    for (const s of r.json.results) {
      for (const k of ['pos', 'neu', 'neg', 'confidence']) assert.ok(s[k] >= 0 && s[k] <= 1, `${k}=${s[k]}`);
      assertShares(s);
      assert.equal(s.confidence, Math.max(s.pos, s.neu, s.neg));
    }
  });

  // An independent corpus: the npm reference (vader-sentiment 1.1.3) scores each text here,
  // the server through its API; they must agree exactly, including the texts whose rounded
  // shares do not sum to 1, and the JSON must carry the short decimal the reference prints.
  const reference = createRequire(import.meta.url)('vader-sentiment').SentimentIntensityAnalyzer;
  function parityCorpus(count) {
    const lexicon = readFileSync(createRequire(import.meta.url).resolve('vader-sentiment/vader_lexicon.txt'), 'utf8')
      .split('\n').filter(Boolean).map((l) => l.split('\t')[0]).filter((w) => /^[a-z]+$/.test(w));
    const nouns = 'support team delivery parcel refund agent app update price room food staff call order'.split(' ');
    const glue = 'the was is and but not very really so quite never it my a with of to company does'.split(' ');
    const ends = ['.', '!', '!!', '?', '??', '...', ' :)', ' :(', ''];
    let seed = 0x1600;
    const rnd = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const pools = [lexicon, nouns, glue];
    const word = () => { const p = pools[rnd(3)]; return p[rnd(p.length)]; };
    const texts = ['The support team was very bad.', 'Misery loves company, but company does not reciprocate.',
      'a', '!!!', 'x y z', 'GREAT service, but the refund was NOT fast'];
    while (texts.length < count) {
      const words = Array.from({ length: 2 + rnd(14) }, () => (rnd(9) === 0 ? word().toUpperCase() : word()));
      texts.push(words.join(' ') + ends[rnd(ends.length)]);
    }
    return texts;
  }

  test('the API returns exactly the npm reference\'s numbers on 1 600 texts (shares not re-summed)', async () => {
    const texts = parityCorpus(1600);
    const got = [];
    for (let i = 0; i < texts.length; i += 256) {
      const r = await c.post('/api/v1/sentiment/batch', { texts: texts.slice(i, i + 256) });
      assert.equal(r.status, 200, r.text);
      // the decimals the reference prints: 3 for the shares, 4 for compound, no 0.38099999
      for (const [, k, v] of r.text.matchAll(/"(pos|neu|neg|compound)":(-?[0-9.e+-]+)/g))
        assert.ok(/^-?\d+(\.\d+)?$/.test(v) && (v.split('.')[1] ?? '').length <= (k === 'compound' ? 4 : 3), `${k}: ${v}`);
      got.push(...r.json.results);
    }
    const differ = [];
    let unbalanced = 0;
    texts.forEach((t, i) => {
      const want = reference.polarity_scores(t);
      const { neg, neu, pos, compound, confidence } = got[i];
      if (neg !== want.neg || neu !== want.neu || pos !== want.pos || compound !== want.compound ||
          confidence !== Math.max(want.neg, want.neu, want.pos))
        differ.push({ text: t, got: { neg, neu, pos, compound, confidence }, want });
      if (Math.round((want.neg + want.neu + want.pos) * 1000) !== 1000) unbalanced++;
    });
    assert.deepEqual(differ.slice(0, 5), [], `${differ.length} of ${texts.length} differ from the reference`);
    assert.ok(unbalanced >= 20, `the corpus has only ${unbalanced} texts whose shares do not sum to 1`);
    assert.deepEqual(got[0], { label: 'negative', compound: -0.2716, pos: 0.257, neu: 0.381, neg: 0.361, confidence: 0.381 });
    assert.equal(got[1].neu, 0.561);
    assert.deepEqual(got[2], { label: 'neutral', compound: 0, pos: 0, neu: 0, neg: 0, confidence: 0 });
  });

  test('stored sentiment of analysed interactions is the reference\'s too', async () => {
    const unbalanced = parityCorpus(400).filter((t) => {
      const w = reference.polarity_scores(t);
      return Math.round((w.neg + w.neu + w.pos) * 1000) !== 1000;
    }).slice(0, 20);
    assert.ok(unbalanced.length >= 10 && unbalanced.includes('The support team was very bad.'));
    const cust = uuid();
    const r = await c.post('/api/v1/interactions/batch', { items: unbalanced.map((content) => interaction(cust, { content })) });
    assert.equal(r.json.created, unbalanced.length, r.text);
    for (const i of await analysed(c, cust, unbalanced.length)) {
      const want = reference.polarity_scores(i.content);
      const { neg, neu, pos, compound } = i.sentiment;
      assert.deepEqual({ neg, neu, pos, compound }, want, i.content);
    }
  });

  test('bad input names the field', async () => {
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/sentiment', { text: '' }), 422)), ['text']);
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/sentiment', { text: 'x'.repeat(10_001) }), 422)), ['text']);
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/sentiment/batch', { texts: Array(257).fill('ok') }), 422)), ['texts']);
    assert.deepEqual(fields(assertProblem(await c.post('/api/v1/sentiment/batch', { texts: ['ok', 3] }), 422)), ['texts[1]']);
  });

  test('the analysis job scores each interaction once and folds it into the customer', async () => {
    const cust = uuid();
    const r = await c.post('/api/v1/interactions/batch', {
      items: [
        interaction(cust, { content: 'Absolutely wonderful service, thank you!' }),
        interaction(cust, { content: 'Horrible. The worst support I have ever had.' }),
        interaction(cust, { channel: 'web', event_type: 'page_view', content: undefined }),
      ],
    });
    assert.equal(r.json.created, 3);
    const items = await analysed(c, cust, 3);
    const scored = items.filter((i) => i.sentiment);
    assert.equal(scored.length, 2, 'an interaction without content has no sentiment');
    const direct = await c.post('/api/v1/sentiment/batch', { texts: scored.map((i) => i.content) });
    scored.forEach((i, k) => assert.deepEqual(i.sentiment, direct.json.results[k]));
    const profile = (await c.get(`/api/v1/customers/${cust}`)).json;
    assert.equal(profile.interaction_count, 3);
    assert.equal(profile.analysed_count, 2);
    const mean = (scored[0].sentiment.compound + scored[1].sentiment.compound) / 2;
    assert.ok(Math.abs(profile.average_sentiment - mean) < 1e-9);
    assert.equal(profile.sentiment.not_analysed, 1);
  });
});

describe('live events (property 10)', () => {
  function subscribe(token, server = srv) {
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/api/v1/realtime', { headers: { authorization: `Bearer ${token}` } });
    const msgs = [];
    ws.on('message', (d) => msgs.push({ at: Date.now(), m: JSON.parse(d.toString()) }));
    const ready = new Promise((resolve, reject) => { ws.on('error', reject); ws.on('open', resolve); })
      .then(() => waitFor(() => msgs.some((x) => x.m.op === 'ready'), 5000, 'ready'))
      .then(() => { ws.send(JSON.stringify({ op: 'subscribe', channel: 'insights' })); })
      .then(() => waitFor(() => msgs.some((x) => x.m.op === 'subscribed'), 5000, 'subscribed'));
    return { ws, msgs, ready, events: (type) => msgs.filter((x) => x.m.op === 'event' && x.m.type === type) };
  }

  test('interaction.created and sentiment.analyzed reach subscribers of the tenant as they happen', async () => {
    // A server whose job workers look for due jobs only once a minute: the analysis can
    // only arrive within the deadline if enqueueing it woke a worker at once. (A 1 s
    // wall-clock bound measured the machine's load as much as the wake-up.)
    const live = await startServer({ env: { CAIRN_JOBS_POLL_MS: '60000' } });
    const otherToken = await otherTenant(live, 'insights-live');
    const mine = subscribe(TOKEN, live);
    const theirs = subscribe(otherToken, live);
    await Promise.all([mine.ready, theirs.ready]);
    const cust = uuid();
    const r = await api(live.url).post('/api/v1/interactions', interaction(cust, { content: 'Great job, very happy!' }));
    assert.equal(r.status, 201);
    const has = (x) => x.m.data.items.some((i) => i.id === r.json.id);
    await waitFor(() => mine.events('sentiment.analyzed').some(has), 20_000, 'sentiment.analyzed (a woken worker, not the 60 s poll)');
    const created = mine.events('interaction.created').find(has);
    const scored = mine.events('sentiment.analyzed').find(has);
    assert.ok(created, 'interaction.created was pushed');
    assert.ok(mine.msgs.indexOf(created) < mine.msgs.indexOf(scored), 'created before analysed');
    const item = created.m.data.items.find((i) => i.id === r.json.id);
    assert.equal(item.customer_id, cust);
    assert.equal(item.timestamp, r.json.timestamp, 'the event carries the time as the answer does');
    assert.ok(Number.isSafeInteger(item.timestamp), `timestamp ${item.timestamp} is integer ms`);
    assert.equal(scored.m.data.items[0].sentiment.label, 'positive');
    await sleep(200);
    assert.equal(theirs.events('interaction.created').length, 0, 'another tenant sees nothing');
    mine.ws.close();
    theirs.ws.close();
    assert.equal(await live.stop(), 0);
  });
});

describe('queries', () => {
  const cust = uuid();
  const segCust = uuid();
  const base = Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR;
  before(async () => {
    const items = [];
    const channels = ['web', 'mobile', 'email', 'chat', 'phone'];
    const words = ['excellent refund', 'awful delay', 'neutral update', 'lovely courier', 'broken invoice'];
    for (let i = 0; i < 60; i++) {
      items.push(interaction(i < 50 ? cust : segCust, {
        timestamp: iso(base + i * HOUR), channel: channels[i % 5], content: `${words[i % 5]} number ${i}`,
      }));
    }
    const r = await c.post('/api/v1/interactions/batch', { items });
    assert.equal(r.json.created, 60);
    assert.equal((await c.put(`/api/v1/customers/${segCust}`, { segment: 'gold', email: 'vip@example.com' })).status, 200);
    await analysed(c, cust, 50);
    await analysed(c, segCust, 10);
  });

  test('cursor pagination walks every item once, in order, in both directions', async () => {
    for (const order of ['desc', 'asc']) {
      const seen = [];
      let cursor = null;
      for (let page = 0; page < 20; page++) {
        const r = await c.get(`/api/v1/insights?customer_id=${cust}&limit=7&order=${order}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(r.status, 200, r.text);
        seen.push(...r.json.items);
        cursor = r.json.next_cursor;
        if (!cursor) break;
      }
      assert.equal(seen.length, 50);
      assert.equal(new Set(seen.map((i) => i.id)).size, 50);
      const ts = seen.map((i) => i.timestamp);
      assert.ok(ts.every(Number.isSafeInteger), 'timestamps are integer ms');
      const sorted = [...ts].sort((a, b) => (order === 'asc' ? a - b : b - a));
      assert.deepEqual(ts, sorted);
    }
  });

  test('filters: channels, date range, sentiment range, segments, sort by sentiment', async () => {
    const email = await c.get(`/api/v1/insights?customer_id=${cust}&channels=email,chat&limit=100`);
    assert.equal(email.json.items.length, 20);
    assert.ok(email.json.items.every((i) => ['email', 'chat'].includes(i.channel)));
    const range = await c.get(`/api/v1/insights?customer_id=${cust}&from=${iso(base + 10 * HOUR)}&to=${iso(base + 20 * HOUR)}&limit=100`);
    assert.equal(range.json.items.length, 10, 'from inclusive, to exclusive');
    const pos = await c.get(`/api/v1/insights?customer_id=${cust}&sentiment_min=0.05&limit=100`);
    assert.ok(pos.json.items.length > 0);
    assert.ok(pos.json.items.every((i) => i.sentiment.compound >= 0.05));
    const gold = await c.get('/api/v1/insights?segments=gold,platinum&limit=100&include_total=true');
    assert.equal(gold.json.total, 10);
    assert.ok(gold.json.items.every((i) => i.customer_id === segCust));
    const bySent = await c.get(`/api/v1/insights?customer_id=${cust}&sort=sentiment&order=asc&limit=100`);
    const comp = bySent.json.items.map((i) => i.sentiment.compound);
    assert.deepEqual(comp, [...comp].sort((a, b) => a - b));
    assert.equal(comp.length, 50);
  });

  test('bad filters are 422 naming the parameter', async () => {
    for (const [q, f] of [['channels=fax', 'channels'], ['sentiment_min=2', 'sentiment_min'], ['limit=101', 'limit'],
      ['sort=size', 'sort'], ['from=yesterday', 'from'], ['cursor=zzz', 'cursor'], ['colour=red', 'colour'],
      [`from=${iso(base)}&to=${iso(base - 1)}`, 'to'], [`from=${base}&to=${base - 1}`, 'to'], ['from=1.5', 'from'],
      ['to=253402300800000', 'to'], ['from=', 'from']]) {
      const p = assertProblem(await c.get(`/api/v1/insights?${q}`), 422);
      assert.ok(fields(p).includes(f), `${q}: ${JSON.stringify(p.errors)}`);
    }
  });

  test('identical queries give identical answers; the next write is visible at once (property 5)', async () => {
    const url = `/api/v1/insights?customer_id=${cust}&limit=100`;
    const a = await c.get(url);
    const b = await c.get(url);
    assert.deepEqual(a.json, b.json);
    assert.equal(b.headers['x-cache'], 'hit');
    const r = await c.post('/api/v1/interactions', interaction(cust, { timestamp: iso(Date.now() - 1000) }));
    const fresh = await c.get(url);
    assert.equal(fresh.json.items.length, 51);
    assert.equal(fresh.json.items[0].id, r.json.id);
    await analysed(c, cust, 51); // the analysis job would change the answer between concurrent reads
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => c.get(`/api/v1/insights?customer_id=${cust}&limit=100&order=asc`)));
    for (const x of concurrent) assert.deepEqual(x.json, concurrent[0].json);
  });

  test('sentiment trends group by day in the tenant zone and count every interaction', async () => {
    const r = await c.get(`/api/v1/insights/sentiment-trends?from=${iso(base - DAY)}&to=${iso(base + 4 * DAY)}&group_by=day&timezone=Asia/Tokyo`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.timezone, 'Asia/Tokyo');
    const total = r.json.buckets.reduce((s, b) => s + b.interactions, 0);
    assert.ok(total >= 60, `${total} interactions in the trend`);
    for (const b of r.json.buckets) {
      assert.ok(Number.isSafeInteger(b.start), `start ${b.start} is integer ms`);
      assert.equal((b.start + 9 * HOUR) % DAY, 0, `${iso(b.start)} is midnight in Tokyo`);
      assert.equal(b.positive + b.neutral + b.negative, b.analysed);
    }
    // the all-channels rollup rows agree with the per-channel ones
    const everyChannel = await c.get(`/api/v1/insights/sentiment-trends?from=${iso(base - DAY)}&to=${iso(base + 4 * DAY)}&group_by=day&timezone=Asia/Tokyo&channels=web,mobile,email,chat,phone`);
    assert.equal(everyChannel.json.buckets.length, r.json.buckets.length);
    everyChannel.json.buckets.forEach((b, i) => {
      const { average_compound: x, ...counts } = b;
      const { average_compound: y, ...expected } = r.json.buckets[i];
      assert.deepEqual(counts, expected);
      assert.ok(x === y || Math.abs(x - y) < 1e-9, `${b.start}: ${x} vs ${y}`); // sums in another order
    });
    const byHour = await c.get(`/api/v1/insights/sentiment-trends?from=${iso(base)}&to=${iso(base + 5 * HOUR)}&group_by=hour&timezone=UTC&channels=web,mobile,email,chat,phone`);
    assert.equal(byHour.json.buckets.length, 5);
    assert.ok(byHour.json.buckets.every((b) => b.interactions >= 1));
    assert.deepEqual(fields(assertProblem(await c.get('/api/v1/insights/sentiment-trends?timezone=Mars/Olympus'), 422)), ['timezone']);
    assert.deepEqual(fields(assertProblem(await c.get('/api/v1/insights/sentiment-trends?group_by=hour&from=2025-01-01T00:00:00Z&to=2025-06-01T00:00:00Z'), 422)), ['group_by']);
  });

  test('the tenant zone setting drives the trends; only insights.manage may change it', async () => {
    assert.deepEqual(fields(assertProblem(await c.put('/api/v1/insights/settings', { timezone: 'Nowhere/Land' }), 422)), ['timezone']);
    assert.equal((await c.put('/api/v1/insights/settings', { timezone: 'America/New_York' })).status, 200);
    const r = await c.get(`/api/v1/insights/sentiment-trends?from=${iso(base)}&to=${iso(base + 2 * DAY)}`);
    assert.equal(r.json.timezone, 'America/New_York');
    const start = new Date(r.json.buckets[0].start); // midnight in New York: 04:00 or 05:00 UTC
    assert.ok([4, 5].includes(start.getUTCHours()) && start.getUTCMinutes() === 0, start.toISOString());
    assert.equal((await c.put('/api/v1/insights/settings', { timezone: 'UTC' })).status, 200);
  });

  test('metrics count channels, sentiment and active customers for a range and a segment', async () => {
    const r = await c.get(`/api/v1/insights/metrics?from=${iso(base)}&to=${iso(base + 60 * HOUR)}&segments=gold`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.interactions, 10);
    assert.equal(r.json.active_customers, 1);
    assert.deepEqual(r.json.by_channel, { web: 2, mobile: 2, email: 2, chat: 2, phone: 2 });
    const s = r.json.sentiment;
    assert.equal(s.positive + s.neutral + s.negative + s.not_analysed, 10);
    assert.equal(r.json.pending_analysis, 0);
    // without a segment filter the rollups answer; they must agree with the rows
    const all = await c.get(`/api/v1/insights/metrics?from=${iso(base)}&to=${iso(base + 60 * HOUR)}`);
    assert.equal(all.json.interactions, 60);
    assert.equal(all.json.active_customers, 2);
    assert.deepEqual(all.json.by_channel, { web: 12, mobile: 12, email: 12, chat: 12, phone: 12 });
    const sa = all.json.sentiment;
    assert.equal(sa.positive + sa.neutral + sa.negative, 60);
    assert.equal(all.json.pending_analysis, 0);
    const rows = (await c.get(`/api/v1/insights?from=${iso(base)}&to=${iso(base + 60 * HOUR)}&limit=100`)).json.items;
    assert.equal(rows.filter((i) => i.sentiment?.label === 'positive').length, sa.positive);
    const mean = rows.reduce((x, i) => x + i.sentiment.compound, 0) / rows.length;
    assert.ok(Math.abs(all.json.average_compound - mean) < 1e-9);
  });

  test('search finds words with ranking and highlighted snippets; query syntax is inert', async () => {
    const r = await c.get('/api/v1/interactions/search?q=lovely courier&limit=50');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length >= 12);
    for (const hit of r.json.items) {
      assert.match(hit.interaction.content, /lovely courier/);
      assert.ok(hit.snippet.some((s) => s.match && s.text === 'courier'));
    }
    const scores = r.json.items.map((h) => h.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    for (const q of ['"', 'NEAR(a b)', 'refund OR *', 'tkey:x', '-x', "'; DROP TABLE interactions; --"]) {
      const x = await c.get(`/api/v1/interactions/search?q=${encodeURIComponent(q)}`);
      assert.ok(x.status === 200 || x.status === 422, `${q}: ${x.status} ${x.text}`);
    }
    assert.deepEqual(fields(assertProblem(await c.get('/api/v1/interactions/search?q=%21%21'), 422)), ['q']);
  });

  test('customers: list by segment, profile with breakdowns and recent interactions', async () => {
    const list = await c.get('/api/v1/customers?segment=gold');
    assert.deepEqual(list.json.items.map((x) => x.id), [segCust]);
    const p = (await c.get(`/api/v1/customers/${segCust}`)).json;
    assert.equal(p.email, 'vip@example.com');
    assert.equal(p.segment, 'gold');
    assert.equal(p.interaction_count, 10);
    assert.equal(p.recent_interactions.length, 10);
    assert.deepEqual(p.channels, { web: 2, mobile: 2, email: 2, chat: 2, phone: 2 });
    assertProblem(await c.get(`/api/v1/customers/${uuid()}`), 404);
    assertProblem(await c.get('/api/v1/customers/not-a-uuid'), 404); // like every malformed id
    assert.deepEqual(fields(assertProblem(await c.put(`/api/v1/customers/${segCust}`, { email: 'nope' }), 422)), ['email']);
  });
});

describe('behaviour patterns (property 6)', () => {
  test('a regular emailer gets confident patterns, sorted, each with confidence in [0.7, 1] and frequency > 0', async () => {
    const cust = uuid();
    const now = Date.now();
    const items = [];
    for (let i = 0; i < 14; i++)
      items.push(interaction(cust, { channel: 'email', timestamp: iso(now - (i * 2 + 1) * DAY), content: 'Thanks, great help as always!' }));
    assert.equal((await c.post('/api/v1/interactions/batch', { items })).json.created, 14);
    let pats = [];
    await waitFor(async () => {
      pats = (await c.get(`/api/v1/customers/${cust}/patterns`)).json.items;
      return pats.length > 0;
    }, 15_000, 'patterns');
    const types = pats.map((p) => p.type);
    assert.ok(types.includes('channel_frequency'), types.join());
    assert.ok(types.includes('sentiment_trend'), types.join());
    for (const p of pats) {
      assert.ok(p.confidence >= 0.7 && p.confidence <= 1, `${p.type} ${p.confidence}`);
      assert.ok(p.frequency > 0);
      assert.ok(p.description.length > 0);
      assert.ok(Number.isSafeInteger(p.detected_at) && p.detected_at <= Date.now());
      assert.ok(Number.isSafeInteger(p.valid_until) && p.valid_until > Date.now());
    }
    const conf = pats.map((p) => p.confidence);
    assert.deepEqual(conf, [...conf].sort((a, b) => b - a));
  });

  test('a customer with fewer than 5 recent interactions has none', async () => {
    const cust = uuid();
    await c.post('/api/v1/interactions/batch', { items: [interaction(cust), interaction(cust), interaction(cust)] });
    await analysed(c, cust, 3);
    await sleep(300);
    assert.deepEqual((await c.get(`/api/v1/customers/${cust}/patterns`)).json.items, []);
    assertProblem(await c.get(`/api/v1/customers/${uuid()}/patterns`), 404);
  });
});

describe('times: integer Unix milliseconds out, milliseconds or RFC 3339 in', () => {
  const isMs = (v) => Number.isSafeInteger(v);
  const cust = uuid();
  const t0 = Math.floor((Date.now() - 3 * DAY) / 1000) * 1000 + 123; // a millisecond part

  test('an interaction sent with integer ms is answered, listed and filtered in ms', async () => {
    const a = await c.post('/api/v1/interactions', interaction(cust, { timestamp: t0 }));
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.timestamp, t0);
    const b = await c.post('/api/v1/interactions', interaction(cust, { timestamp: iso(t0 + HOUR) }));
    assert.equal(b.status, 201, b.text);
    assert.equal(b.json.timestamp, t0 + HOUR, 'RFC 3339 input is still accepted, answered in ms');
    const batch = await c.post('/api/v1/interactions/batch', { items: [interaction(cust, { timestamp: t0 + 2 * HOUR })] });
    assert.equal(batch.json.created, 1, batch.text);
    const items = await analysed(c, cust, 3);
    assert.deepEqual(items.map((i) => i.timestamp), [t0 + 2 * HOUR, t0 + HOUR, t0]);
    for (const i of items) {
      assert.ok(isMs(i.created_at) && isMs(i.processed_at), JSON.stringify(i));
      assert.ok(i.created_at >= i.timestamp);
    }
    // the same window given as ms and as RFC 3339 (with an offset) selects the same rows
    const byMs = await c.get(`/api/v1/insights?customer_id=${cust}&from=${t0}&to=${t0 + HOUR + 1}`);
    assert.equal(byMs.status, 200, byMs.text);
    assert.deepEqual(byMs.json.items.map((i) => i.timestamp), [t0 + HOUR, t0]);
    const offset = new Date(t0 + 2 * HOUR).toISOString().replace('Z', '+02:00'); // t0 as a +02:00 wall clock
    const byText = await c.get(`/api/v1/insights?customer_id=${cust}&from=${encodeURIComponent(offset)}&to=${t0 + HOUR + 1}`);
    assert.deepEqual(byText.json.items, byMs.json.items);
  });

  test('metrics, trends, customers and patterns answer integer ms; their filters take ms', async () => {
    const m = await c.get(`/api/v1/insights/metrics?from=${t0}&to=${t0 + DAY}`);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.from, t0);
    assert.equal(m.json.to, t0 + DAY);
    const open = (await c.get('/api/v1/insights/metrics')).json;
    assert.ok(isMs(open.from) && isMs(open.to) && open.to - open.from === 30 * DAY, JSON.stringify(open));
    const tr = await c.get(`/api/v1/insights/sentiment-trends?from=${t0}&to=${t0 + 2 * DAY}&timezone=Asia/Kolkata`);
    assert.equal(tr.status, 200, tr.text);
    assert.equal(tr.json.timezone, 'Asia/Kolkata');
    for (const b of tr.json.buckets) // midnight at +05:30
      assert.equal((b.start + 5.5 * HOUR) % DAY, 0, `${b.start} starts a day in Kolkata`);
    assert.ok(tr.json.buckets[0].start <= t0 && t0 < tr.json.buckets[1].start, 'the first bucket holds from');
    const p = (await c.get(`/api/v1/customers/${cust}`)).json;
    for (const k of ['first_seen', 'last_seen', 'created_at', 'updated_at']) assert.ok(isMs(p[k]), `${k}: ${p[k]}`);
    assert.equal(p.first_seen, t0);
    assert.equal(p.last_seen, t0 + 2 * HOUR);
    const list = (await c.get('/api/v1/customers?limit=100')).json.items.find((x) => x.id === cust);
    assert.ok(isMs(list.created_at) && isMs(list.updated_at), JSON.stringify(list));
    const hits = (await c.get('/api/v1/interactions/search?q=delivery')).json.items;
    assert.ok(hits.length > 0 && hits.every((h) => isMs(h.interaction.timestamp) && isMs(h.interaction.created_at)),
      JSON.stringify(hits[0]));
  });

  test('the OpenAPI document declares the time inputs as integer ms or RFC 3339', async () => {
    const doc = (await c.get('/api/openapi.json')).json;
    const deref = (x) => (x?.$ref ? deref(x.$ref.split('/').slice(1).reduce((o, k) => o[k], doc)) : x);
    const body = deref(doc.paths['/api/v1/interactions'].post.requestBody.content['application/json'].schema);
    assert.deepEqual(body.properties.timestamp.anyOf.map((x) => x.type).sort(), ['integer', 'string']);
    const params = doc.paths['/api/v1/insights'].get.parameters;
    const from = params.find((x) => x.name === 'from').schema;
    assert.deepEqual(from.anyOf.map((x) => x.type).sort(), ['integer', 'string']);
    assert.equal(from.anyOf.find((x) => x.type === 'string').format, 'date-time');
  });
});

describe('tenants and permissions', () => {
  test("another tenant sees none of this tenant's interactions, customers or search hits", async () => {
    const cust = uuid();
    await c.post('/api/v1/interactions', interaction(cust, { content: 'zebracrossing secret words' }));
    const t = await otherTenant(srv, 'insights-iso');
    const o = api(srv.url, t);
    assert.equal((await o.get(`/api/v1/insights?customer_id=${cust}`)).json.items.length, 0);
    assertProblem(await o.get(`/api/v1/customers/${cust}`), 404);
    assert.equal((await o.get('/api/v1/interactions/search?q=zebracrossing')).json.items.length, 0);
    assert.equal((await c.get('/api/v1/interactions/search?q=zebracrossing')).json.items.length, 1);
    assert.equal((await o.get('/api/v1/insights/metrics')).json.interactions, 0);
  });

  test('a key with insights.read cannot ingest (403); without a token, 401', async () => {
    const t = await otherTenant(srv, 'insights-perm');
    const key = await api(srv.url, t).post('/api/v1/api-keys', { name: 'reader', permissions: ['insights.read'] });
    assert.equal(key.status, 201, key.text);
    const k = api(srv.url, key.json.key);
    assertProblem(await k.post('/api/v1/interactions', interaction(uuid())), 403);
    assert.equal((await k.get('/api/v1/insights')).status, 200);
    assertProblem(await k.put('/api/v1/insights/settings', { timezone: 'UTC' }), 403);
    assertProblem(await api(srv.url, null).get('/api/v1/insights'), 401);
  });
});

describe('atomicity across a crash (property 2)', () => {
  test('after kill -9 during batch ingest, every customer count equals its stored interactions', async () => {
    const dataDir = tempDir();
    const s = await startServer({ dataDir, env: { CAIRN_JOBS_WORKERS: '0' } });
    const k = api(s.url);
    const customers = Array.from({ length: 20 }, uuid);
    let acked = 0;
    const load = (async () => {
      for (let b = 0; b < 200; b++) {
        const items = Array.from({ length: 500 }, (_, i) => interaction(customers[(b + i) % 20], { content: `batch ${b} item ${i}` }));
        const r = await k.post('/api/v1/interactions/batch', { items }).catch(() => null);
        if (!r || r.status !== 200) break;
        acked += r.json.created;
      }
    })();
    await waitFor(() => acked >= 5000, 30_000, 'some batches acknowledged');
    await s.kill9();
    await load;
    const again = await startServer({ dataDir, env: { CAIRN_JOBS_WORKERS: '0' } });
    const a = api(again.url);
    let stored = 0;
    for (const cust of customers) {
      const p = (await a.get(`/api/v1/customers/${cust}`)).json;
      const t = (await a.get(`/api/v1/insights?customer_id=${cust}&include_total=true&limit=1`)).json.total;
      assert.equal(p.interaction_count, t, `customer ${cust}: count ${p.interaction_count}, rows ${t}`);
      stored += t;
    }
    assert.ok(stored >= acked, `${stored} stored, ${acked} acknowledged`);
    const m = (await a.get(`/api/v1/insights/sentiment-trends?from=${iso(Date.now() - 2 * DAY)}&group_by=month&timezone=UTC`)).json;
    const rolled = m.buckets.reduce((x, b) => x + b.interactions, 0);
    assert.equal(rolled, stored, 'the trend rollups agree with the rows');
    await again.stop();
  });
});

describe('metrics', () => {
  test('/metrics counts committed ingests and analyses, and rejections', async () => {
    const s = await startServer();
    const k = api(s.url);
    const cust = uuid();
    const r = await k.post('/api/v1/interactions/batch', { items: [interaction(cust), interaction(cust), interaction(cust, { channel: 'fax' })] });
    assert.equal(r.json.created, 2);
    await analysed(k, cust, 2);
    const read = async (name) => {
      const text = (await k.get('/metrics')).text;
      const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
      assert.ok(m, `${name} in /metrics`);
      return Number(m[1]);
    };
    assert.equal(await read('cairn_insights_interactions_ingested_total'), 2);
    assert.equal(await read('cairn_insights_interactions_rejected_total'), 1);
    await waitFor(async () => (await read('cairn_insights_interactions_analysed_total')) === 2, 5000, 'analysed counter');
    await s.stop();
  });
});
