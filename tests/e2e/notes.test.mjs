// notes module: CRUD, partial updates, deletion and cursor pagination.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  TOKEN, UUID_RE, api, assertProblem, connect, rawExchange, startServer, stopAllServers,
} from './lib/server.mjs';
import { onPostgres } from './lib/db.mjs';

let srv;
let c;

after(stopAllServers);

before(async () => {
  srv = await startServer();
  c = api(srv.url);
});

const fieldsOf = (p) => (p.errors ?? []).map((e) => e.field);

describe('CRUD', () => {
  test('create, read, update, delete round trip', async () => {
    const before = Date.now();
    const created = await c.post('/api/v1/notes', { title: 'Groceries', body: 'milk\neggs ☕' });
    assert.equal(created.status, 201, created.text);
    const note = created.json;
    assert.match(note.id, UUID_RE);
    assert.equal(created.headers.location, `/api/v1/notes/${note.id}`);
    assert.equal(note.title, 'Groceries');
    assert.equal(note.body, 'milk\neggs ☕');
    assert.equal(typeof note.created_at, 'number');
    assert.ok(note.created_at >= before - 1000 && note.created_at <= Date.now() + 1000, `created_at ${note.created_at} is now`);
    assert.equal(note.updated_at, note.created_at);
    assert.deepEqual(Object.keys(note).sort(), ['analyses', 'body', 'created_at', 'id', 'title', 'updated_at', 'words']);
    assert.equal(note.words, 0);
    assert.equal(note.analyses, 0);

    const got = await c.get(created.headers.location);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, note);

    const listed = await c.get('/api/v1/notes');
    assert.equal(listed.status, 200);
    assert.ok(listed.json.items.some((n) => n.id === note.id && n.title === 'Groceries'));

    const upd = await c.patch(`/api/v1/notes/${note.id}`, { title: 'Shopping', body: '' });
    assert.equal(upd.status, 200, upd.text);
    assert.equal(upd.json.id, note.id);
    assert.equal(upd.json.title, 'Shopping');
    assert.equal(upd.json.body, '');
    assert.equal(upd.json.created_at, note.created_at);
    assert.ok(upd.json.updated_at >= note.updated_at);
    assert.deepEqual((await c.get(`/api/v1/notes/${note.id}`)).json, upd.json);

    const del = await c.delete(`/api/v1/notes/${note.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
  });

  test('PATCH changes only the given field', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'T1', body: 'B1' });
    const t = await c.patch(`/api/v1/notes/${note.id}`, { title: 'T2' });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.title, 'T2');
    assert.equal(t.json.body, 'B1');
    const b = await c.patch(`/api/v1/notes/${note.id}`, { body: 'B2' });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.title, 'T2');
    assert.equal(b.json.body, 'B2');
    const got = await c.get(`/api/v1/notes/${note.id}`);
    assert.equal(got.json.title, 'T2');
    assert.equal(got.json.body, 'B2');
  });

  test('empty PATCH is 422 and changes nothing', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'keep', body: 'me' });
    const res = await c.patch(`/api/v1/notes/${note.id}`, {});
    const p = assertProblem(res, 422);
    assert.equal(p.errors.length, 1);
    assert.match(p.errors[0].message, /at least one of title, body/);
    const got = await c.get(`/api/v1/notes/${note.id}`);
    assert.deepEqual(got.json, note);
  });

  test('PATCH validates like POST (empty title, unknown field, null)', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'valid' });
    let p = assertProblem(await c.patch(`/api/v1/notes/${note.id}`, { title: '' }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
    p = assertProblem(await c.patch(`/api/v1/notes/${note.id}`, { id: 'x' }), 422);
    assert.deepEqual(fieldsOf(p), ['id']);
    p = assertProblem(await c.patch(`/api/v1/notes/${note.id}`, { body: null }), 422);
    assert.deepEqual(fieldsOf(p), ['body']);
    assert.equal((await c.get(`/api/v1/notes/${note.id}`)).json.title, 'valid');
  });

  test('DELETE then GET, PATCH and DELETE are 404', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'doomed' });
    assert.equal((await c.delete(`/api/v1/notes/${note.id}`)).status, 204);
    assertProblem(await c.get(`/api/v1/notes/${note.id}`), 404);
    assertProblem(await c.patch(`/api/v1/notes/${note.id}`, { title: 'x' }), 404);
    assertProblem(await c.delete(`/api/v1/notes/${note.id}`), 404);
    const list = await c.get('/api/v1/notes?limit=200');
    assert.ok(!list.json.items.some((n) => n.id === note.id), 'deleted note is not listed');
  });

  test('an id in upper case is not the same note', async () => {
    const { json: note } = await c.post('/api/v1/notes', { title: 'case' });
    const res = await c.get(`/api/v1/notes/${note.id.toUpperCase()}`);
    assert.equal(res.status, 404);
  });

  test('text round-trips exactly (unicode, quotes); an escaped NUL is refused', async () => {
    const title = 'Ünïcødé "quoted" \\ back <tag> 🪨';
    const body = 'line1\r\nline2\t\u2028end';
    const res = await c.post('/api/v1/notes', { title, body });
    assert.equal(res.status, 201, res.text);
    const got = await c.get(`/api/v1/notes/${res.json.id}`);
    assert.equal(got.json.title, title);
    assert.equal(got.json.body, body);
    // the JSON parser refuses \u0000 outright, so it never reaches the database
    const count = (await c.get('/api/v1/notes?limit=200')).json.items.length;
    const nul = await c.post('/api/v1/notes', { title: 'a\u0000b' });
    const p = assertProblem(nul, 400);
    assert.match(p.detail, /line 1, column \d+/);
    assert.equal((await c.get('/api/v1/notes?limit=200')).json.items.length, count);
  });
});

describe('ordering', () => {
  const post = (title) => {
    const body = JSON.stringify({ title });
    return `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const listedWithPrefix = async (prefix) => (await c.get('/api/v1/notes?limit=200')).json.items
    .map((x) => x.title).filter((t) => t.startsWith(prefix));

  test('notes pipelined on one connection are listed in exactly reverse creation order', async () => {
    // HTTP/1.1 handles pipelined requests one after another, in order, so each note is
    // strictly newer than the one before it, though many of them share a millisecond.
    const n = 40;
    const { responses, socket } = await rawExchange(srv.port, Array.from({ length: n }, (_, i) => post(`pipe-${i}`)).join(''), { count: n });
    socket.destroy();
    assert.deepEqual(responses.map((r) => r.status), Array(n).fill(201));
    const titles = responses.map((r) => JSON.parse(r.body).title);
    assert.deepEqual(titles, Array.from({ length: n }, (_, i) => `pipe-${i}`), 'answered in order');
    assert.deepEqual(await listedWithPrefix('pipe-'), [...titles].reverse());
  });

  test('notes created one after another over several connections are listed in exactly reverse creation order', async () => {
    // Each create is answered before the next is sent, but they go over 8 connections,
    // which the server spreads over its loop threads: newest first must hold across threads.
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(srv.port)));
    const titles = [];
    try {
      for (let i = 0; i < 40; i++) {
        const { responses } = await rawExchange(srv.port, post(`multi-${i}`), { socket: sockets[i % sockets.length] });
        assert.equal(responses[0].status, 201);
        titles.push(JSON.parse(responses[0].body).title);
      }
    } finally {
      for (const s of sockets) s.destroy();
    }
    assert.deepEqual(await listedWithPrefix('multi-'), [...titles].reverse());
  });
});

describe('reads that arrive together', () => {
  // On PostgreSQL the reads of one loop turn share round trips (each handler suspends at its
  // statement and resumes with its own result); on SQLite they run one after another. Either
  // way, each answer is its own request's.
  test('30 GETs sent at once over 30 connections each get their own note, 404 or list', async () => {
    const notes = [];
    for (let i = 0; i < 20; i++) notes.push((await c.post('/api/v1/notes', { title: `together-${i}`, body: `b${i}` })).json);
    const get = (path) => `GET ${path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
    const missing = (i) => `/api/v1/notes/00000000-0000-7000-8000-${String(i).padStart(12, '0')}`;
    const paths = [
      ...notes.map((n) => `/api/v1/notes/${n.id}`),
      ...Array.from({ length: 5 }, (_, i) => missing(i)),
      ...Array.from({ length: 5 }, () => '/api/v1/notes?limit=200'),
    ];
    const suspensions = async () => Number((await c.get('/metrics')).text.match(/^cairn_handler_suspensions_total (\d+)$/m)[1]);
    const suspendedBefore = await suspensions();
    const sockets = await Promise.all(paths.map(() => connect(srv.port)));
    try {
      const answers = await Promise.all(paths.map((path, i) => rawExchange(srv.port, get(path), { socket: sockets[i] })));
      answers.forEach(({ responses }, i) => {
        const [r] = responses;
        if (i < notes.length) {
          assert.equal(r.status, 200, paths[i]);
          assert.deepEqual(JSON.parse(r.body), notes[i]);
        } else if (i < notes.length + 5) {
          assert.equal(r.status, 404, paths[i]);
        } else {
          assert.equal(r.status, 200, paths[i]);
          const titles = JSON.parse(r.body).items.map((x) => x.title);
          assert.ok(notes.every((n) => titles.includes(n.title)), 'the list holds every note');
        }
      });
    } finally {
      for (const s of sockets) s.destroy();
    }
    // each read by id sent its statement ahead on PostgreSQL (its handler suspended at least
    // once; the lists may come from the response cache)
    const suspended = (await suspensions()) - suspendedBefore;
    if (onPostgres) assert.ok(suspended >= notes.length + 5, `${suspended} suspensions`);
    else assert.equal(suspended, 0);
  });
});

describe('pagination', () => {
  let p; // a server of its own, so the notes are exactly the ones created here
  let pc;
  const created = [];

  before(async () => {
    p = await startServer();
    pc = api(p.url);
    for (let i = 0; i < 25; i++) {
      const res = await pc.post('/api/v1/notes', { title: `note ${i}` });
      assert.equal(res.status, 201, res.text);
      created.push(res.json);
    }
  });

  async function allPages(limit) {
    const pages = [];
    let cursor = null;
    for (let guard = 0; guard < 20; guard++) {
      const q = `limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
      const res = await pc.get(`/api/v1/notes?${q}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['items', 'next_cursor']);
      pages.push(res.json);
      cursor = res.json.next_cursor;
      if (cursor === null) return pages;
      assert.equal(typeof cursor, 'string');
    }
    throw new Error('pagination did not end');
  }

  test('limit=10 gives pages of 10, 10 and 5, the last with next_cursor null', async () => {
    const pages = await allPages(10);
    assert.deepEqual(pages.map((pg) => pg.items.length), [10, 10, 5]);
    assert.notEqual(pages[0].next_cursor, null);
    assert.notEqual(pages[1].next_cursor, null);
    assert.equal(pages[2].next_cursor, null);
    const ids = pages.flatMap((pg) => pg.items.map((n) => n.id));
    assert.equal(new Set(ids).size, 25, 'no duplicates');
    assert.deepEqual(new Set(ids), new Set(created.map((n) => n.id)), 'every note exactly once');
  });

  test('newest first: created_at never increases and ids descend', async () => {
    const items = (await allPages(10)).flatMap((pg) => pg.items);
    for (let i = 1; i < items.length; i++) {
      assert.ok(items[i - 1].created_at >= items[i].created_at, `item ${i} is not older than item ${i - 1}`);
      assert.ok(items[i - 1].id > items[i].id, `ids descend at ${i}`);
    }
    assert.equal(items[0].created_at, Math.max(...created.map((n) => n.created_at)));
  });

  test('the default page holds all 25 (default limit 50) and limit=200 is allowed', async () => {
    const d = await pc.get('/api/v1/notes');
    assert.equal(d.json.items.length, 25);
    assert.equal(d.json.next_cursor, null);
    const m = await pc.get('/api/v1/notes?limit=200');
    assert.equal(m.status, 200);
    assert.equal(m.json.items.length, 25);
  });

  test('limit equal to the count gives one full page and no cursor', async () => {
    const res = await pc.get('/api/v1/notes?limit=25');
    assert.equal(res.json.items.length, 25);
    assert.equal(res.json.next_cursor, null);
    const one = await pc.get('/api/v1/notes?limit=24');
    assert.equal(one.json.items.length, 24);
    assert.notEqual(one.json.next_cursor, null);
    const rest = await pc.get(`/api/v1/notes?limit=24&cursor=${encodeURIComponent(one.json.next_cursor)}`);
    assert.equal(rest.json.items.length, 1);
    assert.equal(rest.json.next_cursor, null);
  });

  test('a bad cursor is 422 naming cursor', async () => {
    for (const bad of ['zzz', 'not-base64!', Buffer.from('not a uuid at all, but 36 chars long').toString('base64url'), 'A'.repeat(129)]) {
      const res = await pc.get(`/api/v1/notes?cursor=${encodeURIComponent(bad)}`);
      const prob = assertProblem(res, 422);
      assert.deepEqual(fieldsOf(prob), ['cursor'], bad);
    }
  });

  test('a cursor stays valid after its note is deleted', async () => {
    const first = await pc.get('/api/v1/notes?limit=5');
    const last = first.json.items.at(-1);
    const expected = (await pc.get(`/api/v1/notes?limit=5&cursor=${encodeURIComponent(first.json.next_cursor)}`)).json.items.map((n) => n.id);
    const extra = await pc.post('/api/v1/notes', { title: 'temp' });
    assert.equal((await pc.delete(`/api/v1/notes/${extra.json.id}`)).status, 204);
    assert.equal((await pc.delete(`/api/v1/notes/${last.id}`)).status, 204);
    const res = await pc.get(`/api/v1/notes?limit=5&cursor=${encodeURIComponent(first.json.next_cursor)}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.items.map((n) => n.id), expected);
  });
});
