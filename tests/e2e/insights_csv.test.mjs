// Customer-insights CSV import and export, end to end: RFC 4180 quoting edge cases survive
// an import and an export unchanged; a bad row is reported (record, line, reason) and the
// others are stored; header problems are refused before anything is created; rows with an
// idempotency_key are stored once however often the file is imported; a kill -9 in the
// middle of a large import loses and duplicates nothing after a restart; the export
// streams pages, guards formula-looking text, honours its filters; tenants stay apart.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  TOKEN, UUID_RE, api, assertProblem, connect, dbQuery, dbValue, request, sleep, startServer, stopAllServers, tempDir, waitFor, withTimeout,
} from './lib/server.mjs';

after(stopAllServers);

// workers look for due jobs every 50 ms; a body up to 64 MiB (the large import)
const ENV = { CAIRN_JOBS_POLL_MS: '50', CAIRN_MAX_BODY: '64M' };
const HEADER = 'customer_id,timestamp,channel,event_type,content,metadata';
const EXPORT_HEADER = ['id', 'customer_id', 'timestamp', 'channel', 'event_type', 'content', 'metadata', 'device',
  'os', 'client', 'country', 'city', 'sentiment', 'pos', 'neu', 'neg', 'compound', 'confidence', 'processed_at'];
const BOM = '\uFEFF';

let srv;
let c; // the bootstrap token's client, in the bootstrap tenant

before(async () => {
  srv = await startServer({ env: ENV });
  c = client(srv.url);
});

// ---- CSV ----

/**
 * A strict RFC 4180 reader: records end with CRLF, LF or CR (each reported in
 * terminators, '' for a last record without one); a quote in an unquoted field, text after
 * a closing quote or an unterminated quote throw.
 */
function parseCsv(text) {
  const records = [];
  const terminators = [];
  const n = text.length;
  if (n === 0) return { records, terminators };
  let rec = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error(`CSV: unterminated quoted field from offset ${i}`);
        field += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else {
          break;
        }
      }
      if (i < n && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n')
        throw new Error(`CSV: text after a closing quote at offset ${i}: ${JSON.stringify(text.slice(i - 20, i + 20))}`);
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\r' && text[j] !== '\n') {
        if (text[j] === '"') throw new Error(`CSV: quote in an unquoted field at offset ${j}`);
        j++;
      }
      field = text.slice(i, j);
      i = j;
    }
    rec.push(field);
    if (i >= n) {
      records.push(rec);
      terminators.push('');
      break;
    }
    if (text[i] === ',') {
      i++;
      continue;
    }
    let term = text[i];
    if (text[i] === '\r' && text[i + 1] === '\n') term = '\r\n';
    i += term.length;
    records.push(rec);
    terminators.push(term);
    rec = [];
    if (i >= n) break;
  }
  return { records, terminators };
}

/** One field for a CSV we upload: quoted when it has to be (or when forced). */
function q(s, force = false) {
  if (s === null || s === undefined) return '';
  return force || /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const row = (fields) => fields.map((f) => q(f)).join(',');

// ---- API helpers ----

/** Uploads a CSV; asserts the 202 answer and returns it. */
async function importCsv(client, body, contentType = 'text/csv') {
  const res = await client.post('/api/v1/interactions/import', body, { 'content-type': contentType });
  assert.equal(res.status, 202, `POST /api/v1/interactions/import must answer 202, got ${res.status}: ${res.text}`);
  assert.match(res.json.id, UUID_RE);
  assert.match(res.json.job_id, UUID_RE);
  assert.equal(res.json.state, 'queued');
  assert.equal(res.json.bytes, Buffer.byteLength(body));
  assert.equal(res.headers.location, `/api/v1/interactions/imports/${res.json.id}`);
  return res.json;
}

async function getImport(client, id) {
  const res = await client.get(`/api/v1/interactions/imports/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** Waits (bounded) until the import is done and returns it. */
async function waitImport(client, id, timeoutMs = 20_000) {
  return waitFor(async () => {
    const im = await getImport(client, id);
    return im.state === 'done' && im;
  }, timeoutMs, `import ${id} to be done`, 25);
}

/** The errors CSV of an import as [{record, line, error}]. */
async function importErrors(client, id) {
  const res = await client.get(`/api/v1/interactions/imports/${id}/errors`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^text\/csv/);
  const { records, terminators } = parseCsv(res.text);
  assert.deepEqual(records[0], ['record', 'line', 'error']);
  assert.ok(terminators.every((t) => t === '\r\n'), 'CRLF records');
  return records.slice(1).map(([record, line, error]) => ({ record: Number(record), line: Number(line), error }));
}

/** Every interaction of a customer (pages of 100), oldest first. */
async function interactionsOf(client, customer) {
  const items = [];
  let cursor = null;
  for (let guard = 0; guard < 1000; guard++) {
    const res = await client.get(`/api/v1/insights?customer_id=${customer}&limit=100&order=asc` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    assert.equal(res.status, 200, res.text);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
    if (!cursor) return items;
  }
  throw new Error('the list did not end');
}

async function totalOf(client, query) {
  const res = await client.get(`/api/v1/insights?include_total=true&limit=1&${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json.total;
}

/**
 * GET /api/v1/interactions/export?query: asserts the CSV framing (BOM, header, CRLF after
 * every record) and returns the rows as objects keyed by the header.
 */
async function exportRows(client, query = '', timeoutMs = 60_000) {
  const res = await request(`${client.url}/api/v1/interactions/export${query ? `?${query}` : ''}`, {
    headers: client.headers, timeoutMs,
  });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^text\/csv; charset=utf-8/);
  assert.match(res.headers['content-disposition'] ?? '', /^attachment/);
  assert.equal(res.text[0], BOM, 'the export starts with a UTF-8 BOM');
  const { records, terminators } = parseCsv(res.text.slice(1));
  assert.deepEqual(records[0], EXPORT_HEADER);
  assert.ok(terminators.every((t) => t === '\r\n'), `every record ends with CRLF: ${JSON.stringify([...new Set(terminators)])}`);
  for (const r of records) assert.equal(r.length, EXPORT_HEADER.length, `19 fields: ${JSON.stringify(r)}`);
  return records.slice(1).map((r) => Object.fromEntries(EXPORT_HEADER.map((h, i) => [h, r[i]])));
}

/** api() plus the headers it sends, for raw requests. */
function client(url, token = TOKEN) {
  return { ...api(url, token), url, headers: { authorization: `Bearer ${token}` } };
}

async function batch(cl, items) {
  const res = await cl.post('/api/v1/interactions/batch', { items });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.failed, 0, JSON.stringify(res.json.results.filter((r) => r.errors)));
  return res.json.results.map((r) => r.id);
}

/** ISO time `s` seconds after a base instant. */
const at = (base, s) => new Date(Date.parse(base) + s * 1000).toISOString();
const iso = (ms) => new Date(ms).toISOString();

// ---- tests ----

describe('import: quoting', () => {
  test('commas, doubled quotes, line breaks in quotes, empty fields, unicode, BOM, CRLF, no final newline', async () => {
    const cust = randomUUID();
    const base = '2024-03-01T10:00:00Z';
    // [channel, event_type, content, metadata text]; each row at base + its index seconds
    const cases = [
      ['web', 'comma', 'hello, world, again', ''],
      ['email', 'quotes', 'she said "hi" and "bye"', ''],
      ['chat', 'lf', 'line one\nline two\n\nline four', ''],
      ['chat', 'crlf', 'first\r\nsecond\r\n', ''],
      ['web', 'empty', '', ''],
      ['mobile', 'unicode ✓ événement', 'Café ☕ naïve 😀 — 日本語 «ok» Ωmega', ''],
      ['web', 'meta', 'with metadata', '{"note":"a, \\"b\\", c","list":[1,2,"x,y"],"nested":{"k":"v \\"q\\""}}'],
      ['phone', 'spaces', '  padded with spaces  ', ''],
      ['email', 'only quotes', '""', ''],
      ['chat', 'a,b "c"', 'event type with comma and quotes', '{}'],
      ['web', 'comma-last', 'ends with a comma,', ''],
      ['email', 'last', 'the last record has no line break', ''],
    ];
    const lines = cases.map(([ch, et, content, md], i) => row([cust, at(base, i), ch, et, content, md]));
    // other RFC 3339 spellings of the same instants: an offset, fractions, a lower-case t/z
    lines[1] = lines[1].replace(at(base, 1), '2024-03-01T12:00:01+02:00');
    lines[2] = lines[2].replace(at(base, 2), '2024-03-01T10:00:02.000Z');
    lines[3] = lines[3].replace(at(base, 3), '2024-03-01t10:00:03z');
    // a blank line between records is skipped; the last record has no CRLF
    const body = `${BOM}${HEADER}\r\n${lines.slice(0, 5).join('\r\n')}\r\n\r\n${lines.slice(5).join('\r\n')}`;
    assert.ok(!body.endsWith('\n'));
    const im = await importCsv(c, body);
    const done = await waitImport(c, im.id);
    assert.deepEqual(
      { rows_done: done.rows_done, rows_failed: done.rows_failed, records_read: done.records_read },
      { rows_done: cases.length, rows_failed: 0, records_read: cases.length },
    );
    assert.equal(done.job_id, im.job_id);
    // the job's times are integer ms like every JSON time
    assert.ok(Number.isSafeInteger(done.created_at), `created_at ${done.created_at}`);
    assert.ok(Number.isSafeInteger(done.finished_at) && done.finished_at >= done.created_at);
    assert.deepEqual(await importErrors(c, im.id), []);

    const items = await interactionsOf(c, cust);
    assert.equal(items.length, cases.length);
    cases.forEach(([ch, et, content, md], i) => {
      const it = items[i];
      assert.equal(it.timestamp, Date.parse(at(base, i)), `row ${i} timestamp`);
      assert.equal(it.customer_id, cust);
      assert.equal(it.channel, ch, `row ${i} channel`);
      assert.equal(it.event_type, et, `row ${i} event_type`);
      assert.equal(it.content, content === '' ? null : content, `row ${i} content`);
      assert.deepEqual(it.metadata, md === '' ? null : JSON.parse(md), `row ${i} metadata`);
    });

    // the export gives back the same text (none of it starts like a formula)
    const rows = (await exportRows(c, `customer_id=${cust}&order=asc`));
    assert.equal(rows.length, cases.length);
    cases.forEach(([ch, et, content, md], i) => {
      assert.equal(rows[i].id, items[i].id);
      assert.equal(rows[i].channel, ch);
      assert.equal(rows[i].event_type, et, `export row ${i} event_type`);
      assert.equal(rows[i].content, content, `export row ${i} content`);
      assert.deepEqual(rows[i].metadata === '' ? null : JSON.parse(rows[i].metadata), md === '' ? null : JSON.parse(md));
    });

    // and an export imported again (for another customer) gives the same rows once more
    const cust2 = randomUUID();
    const again = [HEADER, ...rows.map((r) => row([cust2, r.timestamp, r.channel, r.event_type, r.content, r.metadata]))].join('\r\n');
    const im2 = await importCsv(c, again);
    const done2 = await waitImport(c, im2.id);
    assert.equal(done2.rows_done, cases.length);
    assert.equal(done2.rows_failed, 0);
    const rows2 = await exportRows(c, `customer_id=${cust2}&order=asc`);
    assert.deepEqual(rows2.map((r) => [r.timestamp, r.channel, r.event_type, r.content, r.metadata]),
      rows.map((r) => [r.timestamp, r.channel, r.event_type, r.content, r.metadata]));
  });

  test('classic Mac line ends (lone CR) and LF-only files', async () => {
    const cust = randomUUID();
    const base = '2024-03-02T10:00:00Z';
    const contents = ['one', 'two\rwith a CR inside quotes', 'three, "quoted"', 'four\nLF inside'];
    const mac = [HEADER, ...contents.map((t, i) => row([cust, at(base, i), 'chat', 'mac', t, '']))].join('\r');
    const unix = `${[HEADER, ...contents.map((t, i) => row([cust, at(base, 10 + i), 'chat', 'unix', t, '']))].join('\n')}\n`;
    for (const body of [mac, unix]) {
      const im = await importCsv(c, body);
      const done = await waitImport(c, im.id);
      assert.equal(done.rows_done, contents.length);
      assert.equal(done.rows_failed, 0);
      assert.equal(done.records_read, contents.length);
    }
    const items = await interactionsOf(c, cust);
    assert.deepEqual(items.map((it) => [it.event_type, it.content]),
      [...contents.map((t) => ['mac', t]), ...contents.map((t) => ['unix', t])]);
  });
});

describe('import: bad rows', () => {
  test('each bad record is reported with its record number, line and reason; the others are stored', async () => {
    const cust = randomUUID();
    const base = '2024-04-01T08:00:00Z';
    const future = new Date(Date.now() + 24 * 3600_000).toISOString();
    const ok = (i, content = `fine ${i}`) => row([cust, at(base, i), 'web', 'ok', content, '']);
    const lines = [
      HEADER, // record 1, line 1
      ok(0), // record 2, line 2
      ok(1, 'spans\ntwo lines'), // record 3, lines 3-4
      `${cust},${at(base, 2)},web,ab"c,bad quote,`, // record 4, line 5
      ok(3), // record 5, line 6
      `${cust},${at(base, 4)},web,extra,content,,surplus`, // record 6, line 7: 7 fields
      `${cust},${at(base, 5)},fax,bad channel,x,`, // record 7, line 8
      '', // a blank line 9: no record
      `${cust},${future},web,future,x,`, // record 8, line 10
      `${cust},${at(base, 7)},web,md,x,"[1,2]"`, // record 9, line 11
      `${cust},${at(base, 8)},email,no content,,`, // record 10, line 12
      `not-a-uuid,${at(base, 9)},web,bad customer,x,`, // record 11, line 13
      `${cust},${at(base, 10)},web,"after"x,y,`, // record 12, line 14
      `${cust},${at(base, 11)},web,short`, // record 13, line 15: 4 fields
      `${cust},not a time,web,bad time,x,`, // record 14, line 16
      `${cust},${at(base, 13)},web,"   ",blank event type,`, // record 15, line 17
      ok(14, 'after all the bad ones'), // record 16, line 18
      `${cust},${at(base, 15)},chat,unterminated,"never closed`, // record 17, line 19 to the end
      ok(16, 'swallowed by the open quote'),
    ];
    const im = await importCsv(c, lines.join('\n'));
    const done = await waitImport(c, im.id);
    const errors = await importErrors(c, im.id);
    const expected = [
      [4, 5, /^malformed CSV: quote inside an unquoted field$/],
      [6, 7, /^7 fields, the header has 6$/],
      [7, 8, /^channel: .*web, mobile, email, chat, phone/],
      [8, 10, /^timestamp: is in the future/],
      [9, 11, /^metadata: must be a JSON object$/],
      [10, 12, /^content: is required for the email and chat channels$/],
      [11, 13, /^customer_id: /],
      [12, 14, /^malformed CSV: text after a closing quote$/],
      [13, 15, /^4 fields, the header has 6$/],
      [14, 16, /^timestamp: /],
      [15, 17, /^event_type: must not be blank$/],
      [17, 19, /^malformed CSV: quoted field not closed before the end of input$/],
    ];
    assert.deepEqual(errors.map((e) => [e.record, e.line]), expected.map(([r, l]) => [r, l]),
      `errors: ${JSON.stringify(errors, null, 1)}`);
    errors.forEach((e, i) => assert.match(e.error, expected[i][2], `record ${e.record}`));
    assert.deepEqual(
      { state: done.state, rows_done: done.rows_done, rows_failed: done.rows_failed, records_read: done.records_read },
      { state: 'done', rows_done: 4, rows_failed: expected.length, records_read: 16 },
    );
    const job = await c.get(`/api/v1/jobs/${im.job_id}`);
    assert.equal(job.status, 200, job.text);
    assert.equal(job.json.name, 'insights.import');
    assert.equal(job.json.state, 'done');
    assert.deepEqual(job.json.progress, { import_id: im.id, rows_done: 4, rows_failed: expected.length, records_read: 16 });

    const items = await interactionsOf(c, cust);
    assert.deepEqual(items.map((it) => it.content), ['fine 0', 'spans\ntwo lines', 'fine 3', 'after all the bad ones']);
  });

  test('a timestamp is integer Unix milliseconds or RFC 3339 text, as in JSON; anything else is reported', async () => {
    const cust = randomUUID();
    const ms = Date.parse('2024-04-03T08:00:00.250Z');
    const lines = [
      HEADER, // record 1
      `${cust},${ms},web,ms,x,`, // record 2: integer milliseconds
      `${cust},2024-04-03T10:00:01+02:00,web,rfc,x,`, // record 3: RFC 3339
      `${cust},12x,web,bad,x,`, // record 4: neither
      `${cust},-5,web,negative,x,`, // record 5: before 1970
      `${cust},99999999999999999999999,web,overflow,x,`, // record 6: not an int64
      `${cust},"${ms + 1000}",web,quoted ms,x,`, // record 7: quoting changes nothing
    ];
    const im = await importCsv(c, `${lines.join('\n')}\n`);
    const done = await waitImport(c, im.id);
    const errors = await importErrors(c, im.id);
    assert.deepEqual(errors.map((e) => e.record), [4, 5, 6], JSON.stringify(errors));
    for (const e of [errors[0], errors[2]])
      assert.match(e.error, /^timestamp: must be integer Unix milliseconds or an RFC 3339 date-time/);
    assert.match(errors[1].error, /^timestamp: /);
    assert.equal(done.rows_done, 3);
    const items = await interactionsOf(c, cust);
    assert.deepEqual(items.map((it) => [it.event_type, it.timestamp]),
      [['ms', ms], ['rfc', Date.parse('2024-04-03T08:00:01Z')], ['quoted ms', ms + 1000]]);
  });

  test('rows failing alone in a full chunk, in several chunks: counts stay exact', async () => {
    const cust = randomUUID();
    const base = '2024-04-02T08:00:00Z';
    const N = 350; // 3 full chunks of 100 and a partial one
    const lines = [HEADER];
    const bad = new Set();
    for (let i = 0; i < N; i++) {
      if (i % 37 === 5) {
        bad.add(i + 2); // its record number
        lines.push(`${cust},${at(base, i)},web,bad,x,"{not json"`);
      } else {
        lines.push(`${cust},${at(base, i)},web,good,row ${i},`);
      }
    }
    const im = await importCsv(c, `${lines.join('\n')}\n`);
    const done = await waitImport(c, im.id);
    assert.equal(done.records_read, N);
    assert.equal(done.rows_failed, bad.size);
    assert.equal(done.rows_done, N - bad.size);
    const errors = await importErrors(c, im.id);
    assert.deepEqual(errors.map((e) => e.record), [...bad]);
    assert.deepEqual(errors.map((e) => e.line), [...bad], 'one line per record here');
    for (const e of errors) assert.match(e.error, /^metadata: must be a JSON object$/);
    assert.equal(await totalOf(c, `customer_id=${cust}`), N - bad.size);
  });
});

describe('import: many bad rows', () => {
  test('10 050 rejected rows are all counted; the first 10 000 are listed', async () => {
    const cust = randomUUID();
    const base = '2024-04-04T00:00:00Z';
    const lines = [HEADER];
    const BAD = 10_050;
    for (let i = 0; i < BAD; i++) {
      if (i % 1000 === 0) lines.push(`${cust},${at(base, i)},web,good,x${i},`);
      lines.push(`${cust},${at(base, i)},pager,bad,x,`);
    }
    const im = await importCsv(c, `${lines.join('\n')}\n`);
    const done = await waitImport(c, im.id, 60_000);
    const good = Math.ceil(BAD / 1000);
    assert.deepEqual([done.rows_done, done.rows_failed, done.records_read], [good, BAD, BAD + good]);
    const errors = await importErrors(c, im.id);
    assert.equal(errors.length, 10_000);
    // records 2, 1003, 2004, ... are the good ones: the list holds the first 10 000 bad ones in order
    const badRecords = [];
    for (let r = 2; badRecords.length < 10_000; r++) if ((r - 2) % 1001 !== 0) badRecords.push(r);
    assert.deepEqual(errors.map((e) => e.record), badRecords);
    assert.ok(errors.every((e) => e.line === e.record && /^channel: /.test(e.error)));
    assert.equal(await totalOf(c, `customer_id=${cust}`), good);
  });
});

describe('import: limits and encodings', () => {
  test('invalid UTF-8, NUL bytes and over-long values are rejected per row; multi-byte text counts characters', async () => {
    const cust = randomUUID();
    const base = '2024-04-03T08:00:00Z';
    const lines = [
      Buffer.from(`${HEADER}\n`),
      Buffer.from(`${cust},${at(base, 0)},web,ok,${'é'.repeat(10_000)},\n`), // 2: 10 000 characters, 20 000 bytes
      Buffer.concat([Buffer.from(`${cust},${at(base, 1)},web,bad,caf`), Buffer.from([0xC3, 0x28]), Buffer.from(',\n')]), // 3
      Buffer.concat([Buffer.from(`${cust},${at(base, 2)},web,nul,a`), Buffer.from([0]), Buffer.from('b,\n')]), // 4
      Buffer.from(`${cust},${at(base, 3)},web,long,${'a'.repeat(10_001)},\n`), // 5
      Buffer.from(`${cust},${at(base, 4)},web,${'e'.repeat(101)},x,\n`), // 6
      Buffer.from(`${cust},${at(base, 5)},web,meta,x,${q(JSON.stringify({ big: 'x'.repeat(17_000) }))}\n`), // 7
      Buffer.from(`${cust},${at(base, 6)},web,ok,${'😀'.repeat(10_000)},\n`), // 8: 40 000 bytes
      Buffer.from(`${cust},${at(base, 7)},web,ctl,${q('bell \u0007 here')},\n`), // 9
      Buffer.from(`${cust},${at(base, 8)},web,ok,${q('tab\there')},${q('{"e":"\u00e9"}')}\n`), // 10
    ];
    const im = await importCsv(c, Buffer.concat(lines));
    const done = await waitImport(c, im.id);
    const errors = await importErrors(c, im.id);
    const expected = [
      [3, /^malformed CSV: invalid UTF-8$/],
      [4, /^malformed CSV: NUL byte/],
      [5, /^content: must be at most 10000 characters$/],
      [6, /^event_type: must be at most 100 characters$/],
      [7, /^metadata: must serialise to at most 16384 bytes$/],
      [9, /^content: must not contain control characters$/],
    ];
    assert.deepEqual(errors.map((e) => e.record), expected.map(([r]) => r), JSON.stringify(errors, null, 1));
    errors.forEach((e, i) => {
      assert.equal(e.line, e.record);
      assert.match(e.error, expected[i][1]);
    });
    assert.deepEqual([done.rows_done, done.rows_failed, done.records_read], [3, 6, 9]);
    const items = await interactionsOf(c, cust);
    assert.deepEqual(items.map((it) => it.content), ['é'.repeat(10_000), '😀'.repeat(10_000), 'tab\there']);
    assert.deepEqual(items[2].metadata, { e: 'é' });
  });

  test('a file with only a header is an import of nothing; a UTF-16 file is refused', async () => {
    for (const body of [HEADER, `${HEADER}\r\n`, `${BOM}${HEADER}\n\n\n`]) {
      const im = await importCsv(c, body);
      const done = await waitImport(c, im.id);
      assert.deepEqual([done.rows_done, done.rows_failed, done.records_read], [0, 0, 0], JSON.stringify(body));
      assert.deepEqual(await importErrors(c, im.id), []);
    }
    const utf16 = Buffer.concat([Buffer.from([0xFF, 0xFE]), Buffer.from(`${HEADER}\n`, 'utf16le')]);
    const res = await c.post('/api/v1/interactions/import', utf16, { 'content-type': 'text/csv' });
    const p = assertProblem(res, 422);
    assert.equal(p.errors[0].field, 'header');
    assert.match(p.errors[0].message, /malformed/);
  });
});

describe('import: refused requests', () => {
  test('header errors are 422 naming "header"; wrong media type 415; empty body 400; nothing is created', async () => {
    const cust = randomUUID();
    const data = `${cust},2024-05-01T00:00:00Z,web,x,y,`;
    const jobsBefore = await importJobs();
    const bad = [
      [`customer_id,timestamp,channel,event_type,content,colour\n${data}\n`, /unknown column "colour"/],
      [`customer_id,timestamp,event_type,content,metadata\n${cust},2024-05-01T00:00:00Z,x,y,\n`, /the column channel is required/],
      [`customer_id,timestamp,channel,content\n${cust},2024-05-01T00:00:00Z,web,y\n`, /the column event_type is required/],
      [`customer_id,timestamp,channel,event_type,channel\n${cust},2024-05-01T00:00:00Z,web,x,web\n`, /the column channel appears twice/],
      [`${BOM}Customer_ID,timestamp,channel,event_type\n${cust},2024-05-01T00:00:00Z,web,x\n`, /unknown column "Customer_ID"/],
      [`customer_id,timestamp,channel,event_type,\n${cust},2024-05-01T00:00:00Z,web,x,\n`, /unknown column ""/],
      [`customer_id,timestamp,"chan"nel",event_type\n${data}\n`, /malformed/],
      ['\n\r\n\n', /no header row/],
    ];
    for (const [body, re] of bad) {
      const res = await c.post('/api/v1/interactions/import', body, { 'content-type': 'text/csv' });
      const p = assertProblem(res, 422);
      assert.equal(p.errors?.[0]?.field, 'header', `${JSON.stringify(body)}: ${res.text}`);
      assert.match(p.errors[0].message, re, JSON.stringify(body));
    }
    const ok = `${HEADER}\n${data}\n`;
    for (const ct of ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
      const res = await c.post('/api/v1/interactions/import', ok, { 'content-type': ct });
      assertProblem(res, 415);
    }
    const noType = await request(`${srv.url}/api/v1/interactions/import`, {
      method: 'POST', body: Buffer.from(ok), headers: { authorization: `Bearer ${TOKEN}` },
    });
    assertProblem(noType, 415);
    assertProblem(await c.post('/api/v1/interactions/import', '', { 'content-type': 'text/csv' }), 400);
    // no token: 401, nothing created
    const anon = await request(`${srv.url}/api/v1/interactions/import`, {
      method: 'POST', body: ok, headers: { 'content-type': 'text/csv' },
    });
    assertProblem(anon, 401);

    // over server.max_body (1 MiB by default): 413, nothing stored
    const small = await startServer();
    const big = `${HEADER}\n${`${cust},2024-05-01T00:00:00Z,web,x,${'y'.repeat(1000)},\n`.repeat(1100)}`;
    // the server answers 413 from the head and closes: the client may still be writing the
    // body and lose that race (EPIPE) before it reads the answer; what is checked is the answer
    let tooBig;
    for (let attempt = 0; !tooBig; attempt++) {
      try {
        tooBig = await api(small.url).post('/api/v1/interactions/import', big, { 'content-type': 'text/csv' });
      } catch (e) {
        if (!['EPIPE', 'ECONNRESET'].includes(e.code) || attempt === 4) throw e;
      }
    }
    assertProblem(tooBig, 413);
    assert.equal(await totalOf(client(small.url), `customer_id=${cust}`), 0);
    assert.equal(await small.stop(), 0);

    await sleep(300); // a job that was wrongly queued would have run by now
    assert.deepEqual(await importJobs(), jobsBefore, 'no import job was queued');
    assert.equal(await totalOf(c, `customer_id=${cust}`), 0, 'no interaction was stored');
    // unknown and malformed import ids
    assertProblem(await c.get(`/api/v1/interactions/imports/${randomUUID()}`), 404);
    assertProblem(await c.get(`/api/v1/interactions/imports/${randomUUID()}/errors`), 404);
    assertProblem(await c.get('/api/v1/interactions/imports/not-an-id'), 404);
    // a text/csv with parameters or in capitals is accepted
    for (const ct of ['text/csv; charset=utf-8', 'TEXT/CSV']) {
      const im = await importCsv(c, `${HEADER}\n`, ct);
      assert.equal((await waitImport(c, im.id)).rows_done, 0);
    }
  });
});

/** The ids of every insights.import job of the bootstrap tenant. */
async function importJobs() {
  const res = await c.get('/api/v1/jobs?name=insights.import&limit=200');
  assert.equal(res.status, 200, res.text);
  return res.json.items.map((j) => j.id).sort();
}

describe('import: idempotency', () => {
  test('a file with an idempotency_key column imported twice stores each row once', async () => {
    const cust = randomUUID();
    const base = '2024-06-01T00:00:00Z';
    const tag = randomUUID();
    const N = 150; // more than one chunk
    const lines = ['customer_id,timestamp,channel,event_type,content,idempotency_key'];
    for (let i = 0; i < N; i++) lines.push(row([cust, at(base, i), 'chat', 'msg', `text ${i}`, `${tag}:${i}`]));
    // in-file duplicates: of the row just before (same chunk), of the first row (an earlier chunk)
    lines.push(row([cust, at(base, 1), 'chat', 'msg', 'same key as the row before', `${tag}:${N - 1}`]));
    lines.push(row([cust, at(base, 0), 'chat', 'msg', 'same key as the first row', `${tag}:0`]));
    const body = `${lines.join('\n')}\n`;

    const first = await importCsv(c, body);
    const d1 = await waitImport(c, first.id);
    assert.deepEqual([d1.rows_done, d1.rows_failed, d1.records_read], [N + 2, 0, N + 2],
      'the in-file duplicates count as done, not failed');
    const stored = await interactionsOf(c, cust);
    assert.equal(stored.length, N);
    assert.deepEqual(stored.map((it) => it.content), Array.from({ length: N }, (_, i) => `text ${i}`));

    const second = await importCsv(c, body);
    assert.notEqual(second.id, first.id);
    const d2 = await waitImport(c, second.id);
    assert.deepEqual([d2.rows_done, d2.rows_failed, d2.records_read], [N + 2, 0, N + 2]);
    const after2 = await interactionsOf(c, cust);
    assert.deepEqual(after2.map((it) => it.id), stored.map((it) => it.id), 'the same rows, nothing new');
    const cust1 = await c.get(`/api/v1/customers/${cust}`);
    assert.equal(cust1.status, 200, cust1.text);
    assert.equal(cust1.json.interaction_count, N, 'the customer counter did not grow');

    // a key first used by the JSON API makes the CSV row a duplicate too
    const single = await c.post('/api/v1/interactions', {
      customer_id: cust, timestamp: at(base, 1000), channel: 'web', event_type: 'api', idempotency_key: `${tag}:api`,
    });
    assert.equal(single.status, 201, single.text);
    const third = await importCsv(c,
      `customer_id,timestamp,channel,event_type,content,idempotency_key\n${row([cust, at(base, 1001), 'web', 'csv', 'x', `${tag}:api`])}\n`);
    const d3 = await waitImport(c, third.id);
    assert.deepEqual([d3.rows_done, d3.rows_failed], [1, 0]);
    assert.equal(await totalOf(c, `customer_id=${cust}`), N + 1);
  });

  test('the same keyed file uploaded four times at once: every row stored once', async () => {
    const cust = randomUUID();
    const tag = randomUUID();
    const N = 450;
    const lines = ['idempotency_key,customer_id,timestamp,channel,event_type,content'];
    for (let i = 0; i < N; i++) lines.push(row([`${tag}:${i}`, cust, at('2024-06-03T00:00:00Z', i), 'web', 'c', `v${i}`]));
    const body = lines.join('\r\n');
    const ims = await Promise.all([1, 2, 3, 4].map(() => importCsv(c, body)));
    const done = await Promise.all(ims.map((im) => waitImport(c, im.id, 30_000)));
    for (const d of done) assert.deepEqual([d.rows_done, d.rows_failed, d.records_read], [N, 0, N]);
    const jobs = await Promise.all(ims.map((im) => waitFor(async () => {
      const j = (await c.get(`/api/v1/jobs/${im.job_id}`)).json;
      return j.state !== 'running' && j.state !== 'queued' && j;
    }, 10_000, 'the import jobs to finish')));
    for (const j of jobs) assert.equal(j.state, 'done', j.last_error);
    const items = await interactionsOf(c, cust);
    assert.equal(items.length, N);
    assert.deepEqual(items.map((it) => it.content), Array.from({ length: N }, (_, i) => `v${i}`));
    assert.equal((await c.get(`/api/v1/customers/${cust}`)).json.interaction_count, N);
  });

  test('without an idempotency_key column the same file imported twice is stored twice (keys derive from the import)', async () => {
    const cust = randomUUID();
    const body = `${HEADER}\n${[0, 1, 2].map((i) => row([cust, at('2024-06-02T00:00:00Z', i), 'web', 'v', `r${i}`, ''])).join('\n')}\n`;
    for (let k = 1; k <= 2; k++) {
      const im = await importCsv(c, body);
      const d = await waitImport(c, im.id);
      assert.equal(d.rows_done, 3);
      assert.equal(await totalOf(c, `customer_id=${cust}`), 3 * k);
    }
  });
});

describe('import: crash', () => {
  test('kill -9 in the middle of a 30 000-row import: after a restart every row is stored exactly once', async (t) => {
    const N = 30_000;
    const PER_CUSTOMER = 100;
    const base = '2003-02-01T00:00:00Z';
    const env = { ...ENV, CAIRN_JOBS_LEASE_MS: '1500', CAIRN_JOBS_POLL_MS: '20' };
    const customers = Array.from({ length: N / PER_CUSTOMER }, () => randomUUID());
    const channels = ['web', 'mobile', 'email', 'chat', 'phone'];
    const lines = [HEADER];
    for (let i = 0; i < N; i++)
      lines.push(`${customers[Math.floor(i / PER_CUSTOMER)]},${at(base, i)},${channels[i % 5]},bulk,k${i},`);
    const body = `${lines.join('\n')}\n`;
    const range = `from=${encodeURIComponent(base)}&to=${encodeURIComponent(at(base, N))}`;

    let caught = null;
    for (let attempt = 1; attempt <= 3 && !caught; attempt++) {
      // first a third of the way in (a resume far into the file), then as early as can be
      const threshold = attempt === 1 ? N / 3 : 1;
      const dir = tempDir('cairn-e2e-insights-kill-');
      const s = await startServer({ dataDir: dir, env });
      const k = client(s.url);
      const im = await importCsv(k, body);
      let seen = null;
      try {
        seen = await waitFor(async () => {
          const x = await getImport(k, im.id);
          if (x.state === 'done') return { late: true, ...x };
          return x.rows_done >= threshold && x;
        }, 60_000, `the import to commit ${threshold} rows`, 2);
      } finally {
        await s.kill9();
      }
      const [{ state, rows_done: rowsDone, next_record: nextRecord }] = await dbQuery(dir,
        `SELECT state, rows_done, next_record FROM insight_imports WHERE id = '${im.id}'`);
      t.diagnostic(`attempt ${attempt}: seen ${seen.state} rows_done ${seen.rows_done}; at the kill: ${state} ${rowsDone} (next record ${nextRecord})`);
      if (!seen.late && state !== 'done') caught = { dir, im, rowsDone: Number(rowsDone) };
    }
    assert.ok(caught, 'a kill -9 caught the import mid-way in one of 3 attempts (the file must be larger?)');
    assert.ok(caught.rowsDone > 0 && caught.rowsDone < N, `${caught.rowsDone} rows committed at the kill`);

    const s2 = await startServer({ dataDir: caught.dir, env });
    const k2 = client(s2.url);
    const done = await waitImport(k2, caught.im.id, 60_000);
    assert.deepEqual(
      { rows_done: done.rows_done, rows_failed: done.rows_failed, records_read: done.records_read },
      { rows_done: N, rows_failed: 0, records_read: N },
    );
    // the import commits its last chunk as done just before the job itself is marked done
    const job = await waitFor(async () => {
      const j = (await k2.get(`/api/v1/jobs/${caught.im.job_id}`)).json;
      return j.state !== 'running' && j.state !== 'queued' && j;
    }, 10_000, 'the import job to finish');
    assert.equal(job.state, 'done', job.last_error);
    assert.ok(job.attempts >= 2, `the job ran again after the crash (attempts ${job.attempts})`);
    assert.deepEqual(job.progress, { import_id: caught.im.id, rows_done: N, rows_failed: 0, records_read: N });
    assert.deepEqual(await importErrors(k2, caught.im.id), []);

    assert.equal(await totalOf(k2, range), N, 'interactions stored in the range');
    // the customers' counters: each customer has its 100 rows, none counted twice
    let sum = 0;
    const counts = new Map();
    let cursor = null;
    for (let guard = 0; guard < 100; guard++) {
      const res = await k2.get(`/api/v1/customers?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.status, 200, res.text);
      for (const cu of res.json.items) {
        counts.set(cu.id, cu.interaction_count);
        sum += cu.interaction_count;
      }
      cursor = res.json.next_cursor;
      if (!cursor) break;
    }
    assert.equal(counts.size, customers.length);
    assert.equal(sum, N);
    for (const cu of customers) assert.equal(counts.get(cu), PER_CUSTOMER, `customer ${cu}`);
    // every row exactly once, by its content
    const rows = await exportRows(k2, range, 120_000);
    assert.equal(rows.length, N);
    const seenContent = new Set(rows.map((r) => r.content));
    assert.equal(seenContent.size, N, 'no content twice');
    for (let i = 0; i < N; i++) if (!seenContent.has(`k${i}`)) assert.fail(`row k${i} is missing`);
    assert.equal(await dbValue(caught.dir, 'SELECT count(*) FROM interactions'), N);

    // a client that goes away after the first bytes of a large export does not hurt the server
    for (let i = 0; i < 3; i++) {
      await withTimeout(new Promise((resolve, reject) => {
        const req = http.get(`${s2.url}/api/v1/interactions/export?${range}`, { headers: k2.headers, agent: false }, (res) => {
          res.once('data', () => { req.destroy(); resolve(); });
          res.on('error', () => {});
        });
        req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
      }), 10_000, 'the first bytes of the export');
    }
    await sleep(200);
    assert.equal((await k2.get('/readyz')).status, 200);
    assert.equal((await exportRows(k2, `${range}&channels=email`, 60_000)).length, N / 5);
    assert.equal(await s2.stop(), 0, 'a clean exit after the dropped exports');
  });
});

describe('export', () => {
  test('formula-looking free text is prefixed with \'; numbers are not', async () => {
    const cust = randomUUID();
    const base = '2024-07-01T00:00:00Z';
    const texts = ['=SUM(A1)', '+1+2', '-2 degrees', '@cmd', '\tleading tab', '\rleading CR', 'plain = text', "'already quoted"];
    const ids = await batch(c, [
      ...texts.map((t, i) => ({ customer_id: cust, timestamp: at(base, i), channel: 'chat', event_type: 'f', content: t })),
      { customer_id: cust, timestamp: at(base, 20), channel: 'web', event_type: '=HYPERLINK("x")', content: 'This is terrible, awful and sad.' },
      { customer_id: cust, timestamp: at(base, 21), channel: 'web', event_type: '-dash', metadata: { '=k': '=v' } },
    ]);
    await waitAnalysed(cust, ids.length);
    const rows = await exportRows(c, `customer_id=${cust}&order=asc`);
    assert.deepEqual(rows.map((r) => r.id), ids);
    texts.forEach((t, i) => {
      const guarded = /^[=+\-@\t\r]/.test(t);
      assert.equal(rows[i].content, guarded ? `'${t}` : t, `content ${JSON.stringify(t)}`);
    });
    assert.equal(rows[8].event_type, '\'=HYPERLINK("x")');
    assert.equal(rows[9].event_type, "'-dash");
    assert.deepEqual(JSON.parse(rows[9].metadata), { '=k': '=v' }, 'JSON metadata starts with { and is left alone');
    assert.equal(rows[8].sentiment, 'negative');
    assert.match(rows[8].compound, /^-0\.\d{4}$/, 'a negative score is written as a number');
    for (const col of ['pos', 'neu', 'neg', 'confidence']) assert.match(rows[8][col], /^[01]\.\d{4}$/, col);
    assert.equal(rows[9].content, '');
    assert.equal(rows[9].sentiment, '', 'nothing to score');
    assert.match(rows[9].processed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('every column of the export is the interaction\'s JSON value (enrichment, scores, times)', async () => {
    const cust = randomUUID();
    const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
    const ids = await batch(c, [
      { customer_id: cust, timestamp: '2024-07-03T10:00:00.123Z', channel: 'mobile', event_type: 'visit', content: 'Lovely, quick and easy!', metadata: { user_agent: ua, ip: '127.0.0.1', n: 1 } },
      { customer_id: cust, timestamp: '2024-07-03T11:00:00Z', channel: 'web', event_type: 'view', metadata: { user_agent: 'curl/8.4.0' } },
      { customer_id: cust, timestamp: '2024-07-03T12:00:00Z', channel: 'phone', event_type: 'call', content: 'So-so.' },
    ]);
    const items = await waitAnalysed(cust, ids.length);
    const rows = await exportRows(c, `customer_id=${cust}&order=asc`);
    assert.equal(rows.length, items.length);
    const num = (v) => (v === null || v === undefined ? '' : v.toFixed(4));
    rows.forEach((r, i) => {
      const it = items[i];
      assert.deepEqual(r, {
        // the CSV writes times as RFC 3339 text (for spreadsheets), the JSON as integer ms
        id: it.id, customer_id: it.customer_id, timestamp: iso(it.timestamp), channel: it.channel, event_type: it.event_type,
        content: it.content ?? '', metadata: it.metadata === null ? '' : JSON.stringify(it.metadata),
        device: it.enrichment.device ?? '', os: it.enrichment.os ?? '', client: it.enrichment.client ?? '',
        country: it.enrichment.country ?? '', city: it.enrichment.city ?? '',
        sentiment: it.sentiment?.label ?? '', pos: num(it.sentiment?.pos), neu: num(it.sentiment?.neu),
        neg: num(it.sentiment?.neg), compound: num(it.sentiment?.compound), confidence: num(it.sentiment?.confidence),
        processed_at: it.processed_at === null ? '' : iso(it.processed_at),
      }, `row ${i}`);
    });
    assert.equal(rows[0].timestamp, '2024-07-03T10:00:00.123Z');
    assert.ok(rows[0].device && rows[0].os, `the user agent was parsed: ${JSON.stringify(items[0].enrichment)}`);
    assert.equal(rows[0].sentiment, 'positive');
  });

  test('filters: channels, customer_id, from/to, sentiment_min/max, sort by sentiment; bad filters name the parameter', async () => {
    const cust = randomUUID();
    const other = randomUUID();
    const base = '2024-07-02T00:00:00Z';
    const spec = [
      ['web', 'I love this product, it is wonderful and great!'],
      ['email', 'Terrible service, I am very angry and disappointed.'],
      ['chat', 'The package arrived on Tuesday.'],
      ['mobile', 'Good app, nice work.'],
      ['phone', 'Awful. Worst call ever, horrible.'],
      ['web', 'It is okay I guess.'],
      ['email', 'Thanks a lot, excellent help, amazing!'],
    ];
    const ids = await batch(c, [
      ...spec.map(([ch, content], i) => ({ customer_id: cust, timestamp: at(base, i * 60), channel: ch, event_type: 'e', content })),
      { customer_id: other, timestamp: at(base, 30), channel: 'web', event_type: 'e', content: 'other customer, great' },
    ]);
    const items = await waitAnalysed(cust, spec.length);
    const compound = new Map(items.map((it) => [it.id, it.sentiment.compound]));
    const x = c;

    const all = await exportRows(x, `customer_id=${cust}`);
    assert.deepEqual(all.map((r) => r.id), ids.slice(0, spec.length).reverse(), 'newest first by default');
    for (const r of all) {
      const it = items.find((i) => i.id === r.id);
      assert.equal(Number(r.compound).toFixed(4), it.sentiment.compound.toFixed(4));
      assert.equal(r.sentiment, it.sentiment.label);
      assert.equal(Date.parse(r.timestamp), it.timestamp);
      assert.equal(r.customer_id, cust);
    }

    const webEmail = await exportRows(x, `customer_id=${cust}&channels=web,email&order=asc`);
    assert.deepEqual(webEmail.map((r) => r.id), ids.filter((_, i) => i < spec.length && ['web', 'email'].includes(spec[i][0])));

    const range = await exportRows(x, `customer_id=${cust}&from=${encodeURIComponent(at(base, 60))}&to=${encodeURIComponent(at(base, 240))}&order=asc`);
    assert.deepEqual(range.map((r) => r.id), ids.slice(1, 4), 'from inclusive, to exclusive');
    const rangeMs = await exportRows(x, `customer_id=${cust}&from=${Date.parse(at(base, 60))}&to=${Date.parse(at(base, 240))}&order=asc`);
    assert.deepEqual(rangeMs.map((r) => r.id), ids.slice(1, 4), 'the same window in integer ms');

    const positive = await exportRows(x, `customer_id=${cust}&sentiment_min=0.5`);
    const expectPos = ids.slice(0, spec.length).filter((id) => compound.get(id) >= 0.5).reverse();
    assert.ok(expectPos.length >= 2 && expectPos.length < spec.length, `a meaningful filter: ${JSON.stringify([...compound])}`);
    assert.deepEqual(positive.map((r) => r.id), expectPos);

    const negative = await exportRows(x, `customer_id=${cust}&sentiment_max=-0.3`);
    const expectNeg = ids.slice(0, spec.length).filter((id) => compound.get(id) <= -0.3).reverse();
    assert.ok(expectNeg.length >= 2, 'some negative rows');
    assert.deepEqual(negative.map((r) => r.id), expectNeg);

    const bySentiment = await exportRows(x, `customer_id=${cust}&sort=sentiment&order=asc`);
    const sorted = [...bySentiment.map((r) => Number(r.compound))];
    assert.equal(bySentiment.length, spec.length);
    assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b), 'ascending compound');

    // segments: the customer's segment, set afterwards, selects its rows
    const seg = `seg-${randomUUID().slice(0, 8)}`;
    assert.equal((await c.request('PUT', `/api/v1/customers/${other}`, { segment: seg })).status, 200);
    const bySegment = await exportRows(x, `segments=${seg},nobody-${seg}`);
    assert.deepEqual(bySegment.map((r) => r.id), [ids[spec.length]]);
    assert.deepEqual(await exportRows(x, `segments=nobody-${seg}`), []);

    const bothCustomers = await exportRows(x, `from=${encodeURIComponent(base)}&to=${encodeURIComponent(at(base, 3600))}&channels=web`);
    assert.ok(bothCustomers.some((r) => r.customer_id === other) && bothCustomers.some((r) => r.customer_id === cust));
    assert.ok(bothCustomers.every((r) => r.channel === 'web'));

    for (const [qs, field] of [
      ['channels=fax', 'channels'], ['channels=web,sms', 'channels'], ['sentiment_min=2', 'sentiment_min'],
      ['sentiment_max=-1.5', 'sentiment_max'], ['sentiment_min=0.5&sentiment_max=0.1', 'sentiment_max'],
      ['from=yesterday', 'from'], ['to=2024-13-01T00:00:00Z', 'to'],
      [`from=${encodeURIComponent(at(base, 60))}&to=${encodeURIComponent(base)}`, 'to'],
      ['customer_id=not-a-uuid', 'customer_id'], ['sort=random', 'sort'], ['order=sideways', 'order'],
    ]) {
      const res = await request(`${srv.url}/api/v1/interactions/export?${qs}`, { headers: x.headers });
      const p = assertProblem(res, 422);
      assert.ok(p.errors.some((e) => e.field === field), `${qs}: ${res.text}`);
    }
  });

  test('HEAD of the export answers the headers only, and the connection stays usable', async () => {
    const cust = randomUUID();
    await batch(c, [{ customer_id: cust, timestamp: '2024-07-04T00:00:00Z', channel: 'web', event_type: 'h', content: 'head' }]);
    const sock = await connect(srv.port);
    try {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      sock.write(`HEAD /api/v1/interactions/export?customer_id=${cust} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
      await waitFor(() => buf.includes('\r\n\r\n'), 5000, 'the HEAD response');
      await sleep(300); // time for any (wrong) body bytes to arrive
      const end = buf.indexOf('\r\n\r\n') + 4;
      const head = buf.subarray(0, end).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.match(head, /\r\ncontent-type: text\/csv; charset=utf-8\r\n/i);
      assert.equal(buf.subarray(end).toString('utf8'), '',
        'HEAD reaches the GET handler (router.c): the export must not stream a body, which the ' +
        'client would read as the start of the next response on the keep-alive connection');
      // the next request on the same connection gets its own, well-formed answer
      buf = Buffer.alloc(0);
      sock.write('GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor(() => buf.includes('\r\n\r\n'), 5000, 'the answer to the next request');
      assert.match(buf.toString('latin1'), /^HTTP\/1\.1 200 /);
    } finally {
      sock.destroy();
    }
  });

  test('an export of 1 200 rows (three pages) lists every row exactly once, in order', async () => {
    const cust = randomUUID();
    const base = '2024-08-01T00:00:00Z';
    const N = 1200;
    // (no digits on their own: VADER scores slang such as "143")
    const content = (i) => `r${i}q, "quoted"\nsecond line${i % 10 === 0 ? ', great' : ''}`;
    // groups of 7 rows share a timestamp, so page boundaries fall inside a group
    const items = Array.from({ length: N }, (_, i) => ({
      customer_id: cust, timestamp: at(base, Math.floor(i / 7)), channel: ['web', 'chat', 'phone'][i % 3],
      event_type: 'page', content: content(i),
    }));
    const ids = [...await batch(c, items.slice(0, 1000)), ...await batch(c, items.slice(1000))];
    assert.equal(new Set(ids).size, N);
    assert.equal(await totalOf(c, `customer_id=${cust}`), N);

    for (const order of ['desc', 'asc']) {
      const rows = await exportRows(c, `customer_id=${cust}&order=${order}`);
      assert.equal(rows.length, N, `${order}: ${rows.length} rows`);
      const counts = new Map();
      for (const r of rows) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
      assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'no row twice');
      for (const id of ids) assert.ok(counts.has(id), `${id} exported`);
      const byId = new Map(ids.map((id, i) => [id, i]));
      for (const r of rows) assert.equal(r.content, content(byId.get(r.id)));
      // (timestamp, id) strictly monotonic
      const key = (r) => [Date.parse(r.timestamp), r.id];
      for (let i = 1; i < rows.length; i++) {
        const [ta, ia] = key(rows[i - 1]);
        const [tb, ib] = key(rows[i]);
        const cmp = ta !== tb ? Math.sign(ta - tb) : ia < ib ? -1 : 1;
        assert.equal(cmp, order === 'asc' ? -1 : 1, `order at ${i}`);
      }
    }
    // sorted by sentiment: 120 rows share one positive score, 1 080 a neutral one, so the id
    // alone orders the rows within each and the page cursors cross the tie
    await waitFor(async () => await totalOf(c, `customer_id=${cust}&sentiment_min=-1`) === N, 30_000,
      'the analysis of the 1 200 rows', 100);
    const bySentiment = await exportRows(c, `customer_id=${cust}&sort=sentiment`);
    assert.equal(bySentiment.length, N);
    assert.equal(new Set(bySentiment.map((r) => r.id)).size, N, 'no row twice when sorted by sentiment');
    const great = ids.filter((_, i) => i % 10 === 0);
    const plain = ids.filter((_, i) => i % 10 !== 0);
    assert.deepEqual(bySentiment.map((r) => r.id), [...great.sort().reverse(), ...plain.sort().reverse()],
      'higher score first; equal scores by id, descending');
    assert.deepEqual([...new Set(bySentiment.map((r) => r.compound))].map(Number).map((x) => Math.sign(x)), [1, 0]);
    const phone = await exportRows(c, `customer_id=${cust}&channels=phone`);
    assert.equal(phone.length, N / 3);
    assert.equal(await totalOf(c, `customer_id=${cust}&channels=phone`), N / 3);
  });
});

/** Waits until the customer's n interactions are all analysed; returns them (oldest first). */
async function waitAnalysed(cust, n) {
  return waitFor(async () => {
    const items = await interactionsOf(c, cust);
    return items.length === n && items.every((it) => it.processed_at !== null) && items;
  }, 20_000, `the analysis of ${n} interactions of ${cust}`, 50);
}

describe('tenants', () => {
  test('another tenant cannot see an import, its errors or its rows; its own keys are its own', async () => {
    const slug = `csv-${randomUUID().slice(0, 8)}`;
    const pw = 'steady-Koala-71-bramble';
    const t = await c.post('/api/v1/tenants', { slug, name: 'CSV other', owner_email: `owner@${slug}.test`, owner_password: pw });
    assert.equal(t.status, 201, t.text);
    const login = await request(`${srv.url}/api/v1/auth/login`, {
      method: 'POST', body: { tenant: slug, email: `owner@${slug}.test`, password: pw },
    });
    assert.equal(login.status, 200, login.text);
    const b = client(srv.url, login.json.access_token);

    const cust = randomUUID();
    const key = randomUUID();
    const body = `customer_id,timestamp,channel,event_type,content,idempotency_key\n${[0, 1, 2]
      .map((i) => row([cust, at('2024-09-01T00:00:00Z', i), 'chat', 'm', `secret ${i}`, `${key}:${i}`])).join('\n')}\n` +
      `${cust},2024-09-01T00:00:09Z,fax,m,bad,${key}:9\n`;
    const im = await importCsv(c, body);
    const done = await waitImport(c, im.id);
    assert.deepEqual([done.rows_done, done.rows_failed], [3, 1]);
    assert.equal((await importErrors(c, im.id)).length, 1);

    assertProblem(await b.get(`/api/v1/interactions/imports/${im.id}`), 404);
    assertProblem(await b.get(`/api/v1/interactions/imports/${im.id}/errors`), 404);
    const job = await b.get(`/api/v1/jobs/${im.job_id}`);
    assert.equal(job.status, 404, `another tenant's import job: ${job.status}`);
    for (const qs of ['', `customer_id=${cust}`]) {
      const res = await request(`${srv.url}/api/v1/interactions/export${qs ? `?${qs}` : ''}`, { headers: b.headers });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, `${BOM}${EXPORT_HEADER.join(',')}\r\n`, `only the header (${qs || 'no filter'})`);
    }
    assert.deepEqual((await b.get(`/api/v1/insights?customer_id=${cust}`)).json.items, []);

    // the same keys in the other tenant are new there, and leave the first tenant alone
    const imB = await importCsv(b, body);
    const doneB = await waitImport(b, imB.id);
    assert.deepEqual([doneB.rows_done, doneB.rows_failed], [3, 1]);
    assert.equal(await totalOf(b, `customer_id=${cust}`), 3);
    assert.equal(await totalOf(c, `customer_id=${cust}`), 3);
    assertProblem(await c.get(`/api/v1/interactions/imports/${imB.id}`), 404);
    const mine = await exportRows(c, `customer_id=${cust}`);
    const theirs = await exportRows(b, `customer_id=${cust}`);
    assert.equal(mine.length, 3);
    assert.equal(theirs.length, 3);
    assert.deepEqual(mine.map((r) => r.id).filter((id) => theirs.some((x) => x.id === id)), [], 'distinct rows');

    // a key that may only read exports but can neither import nor look at imports
    const made = await b.post('/api/v1/api-keys', { name: 'reader', permissions: ['insights.read'] });
    assert.equal(made.status, 201, made.text);
    const reader = client(srv.url, made.json.key);
    assertProblem(await reader.post('/api/v1/interactions/import', body, { 'content-type': 'text/csv' }), 403);
    assertProblem(await reader.get(`/api/v1/interactions/imports/${imB.id}`), 403);
    assertProblem(await reader.get(`/api/v1/interactions/imports/${imB.id}/errors`), 403);
    assert.equal((await exportRows(reader, `customer_id=${cust}`)).length, 3);
    assert.equal(await totalOf(b, `customer_id=${cust}`), 3, 'the refused import stored nothing');
  });
});
