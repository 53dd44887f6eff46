// HTTP surface: every status code the server produces, the problem+json shape, request ids,
// HEAD, OPTIONS/CORS and HTTP/1.1 keep-alive with pipelining.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  TOKEN, UUID_RE, api, assertProblem, rawExchange, request, startServer, stopAllServers,
} from './lib/server.mjs';

const ORIGIN = 'https://app.example';
const MAX_BODY = 2048;

let srv; // token set, CORS for ORIGIN, small body limit
let c; // authenticated client
let anon; // client without a token

after(stopAllServers);

before(async () => {
  srv = await startServer({ env: { CAIRN_CORS_ORIGINS: ORIGIN, CAIRN_MAX_BODY: String(MAX_BODY) } });
  c = api(srv.url);
  anon = api(srv.url, null);
});

async function createNote(title = 'hello') {
  const res = await c.post('/api/v1/notes', { title, body: 'text' });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

const JSON_CT = { 'content-type': 'application/json' };
const fieldsOf = (p) => (p.errors ?? []).map((e) => e.field);

describe('success statuses', () => {
  test('200 GET /healthz with a JSON body', async () => {
    const res = await anon.get('/healthz');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(res.json, { status: 'ok' });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  test('201 POST creates and answers Location', async () => {
    const res = await c.post('/api/v1/notes', { title: 'created' });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.id, UUID_RE);
    assert.equal(res.headers.location, `/api/v1/notes/${res.json.id}`);
    assert.equal(res.json.title, 'created');
    assert.equal(res.json.body, '');
  });

  test('204 DELETE answers no body and no content type', async () => {
    const note = await createNote();
    const res = await c.delete(`/api/v1/notes/${note.id}`);
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal(res.headers['content-type'], undefined);
  });
});

describe('400 bad request', () => {
  test('malformed JSON names line and column', async () => {
    const res = await c.post('/api/v1/notes', '{\n  "title": "x",\n  "body": nope\n}', JSON_CT);
    const p = assertProblem(res, 400);
    assert.match(p.detail, /line 3, column \d+/);
    assert.match(p.type, /bad-request/);
  });

  test('truncated JSON is malformed', async () => {
    const res = await c.post('/api/v1/notes', '{"title": "x"', JSON_CT);
    const p = assertProblem(res, 400);
    assert.match(p.detail, /line 1, column \d+/);
  });

  test('empty body on a route that needs one', async () => {
    const res = await c.post('/api/v1/notes', '', { 'content-type': 'application/json' });
    const p = assertProblem(res, 400);
    assert.match(p.detail, /body is required/);
  });

  test('body on a route that takes none', async () => {
    const res = await c.request('GET', '/healthz', { title: 'x' });
    const p = assertProblem(res, 400);
    assert.match(p.detail, /takes no request body/);
  });

  test('body on DELETE is refused', async () => {
    const note = await createNote();
    const res = await c.request('DELETE', `/api/v1/notes/${note.id}`, { x: 1 });
    assertProblem(res, 400);
    assert.equal((await c.get(`/api/v1/notes/${note.id}`)).status, 200, 'note not deleted');
  });
});

describe('401 unauthorized', () => {
  test('no token', async () => {
    const res = await anon.get('/api/v1/notes');
    const p = assertProblem(res, 401);
    assert.match(p.detail, /Authorization/);
    assert.match(res.headers['www-authenticate'], /^Bearer realm="cairn"/);
  });

  test('wrong token', async () => {
    const res = await api(srv.url, `${TOKEN}x`).get('/api/v1/notes');
    const p = assertProblem(res, 401);
    assert.match(p.detail, /not valid/);
  });

  test('same-length wrong token and non-Bearer scheme', async () => {
    const wrong = TOKEN.slice(0, -1) + (TOKEN.endsWith('a') ? 'b' : 'a');
    assertProblem(await api(srv.url, wrong).get('/api/v1/notes'), 401);
    const basic = await anon.get('/api/v1/notes', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
    assertProblem(basic, 401);
  });

  test('no token accepted when CAIRN_BOOTSTRAP_TOKEN is unset', async () => {
    const s = await startServer({ env: { CAIRN_BOOTSTRAP_TOKEN: undefined } });
    const res = await api(s.url, TOKEN).get('/api/v1/notes');
    const p = assertProblem(res, 401);
    assert.match(p.detail, /CAIRN_BOOTSTRAP_TOKEN/);
    assert.equal((await api(s.url, '').get('/healthz')).status, 200, 'public routes stay open');
    assert.equal(await s.stop(), 0);
  });
});

describe('404 not found', () => {
  test('unknown path', async () => {
    const p = assertProblem(await c.get('/api/v1/nothing-here'), 404);
    assert.match(p.type, /not-found/);
  });

  test('non-UUID id', async () => {
    assertProblem(await c.get('/api/v1/notes/not-a-uuid'), 404);
    assertProblem(await c.patch('/api/v1/notes/123', { title: 'x' }), 404);
    assertProblem(await c.delete('/api/v1/notes/..%2F..%2Fetc'), 404);
  });

  test('missing note', async () => {
    const p = assertProblem(await c.get('/api/v1/notes/00000000-0000-7000-8000-000000000000'), 404);
    assert.match(p.detail, /no note/);
  });
});

describe('405 method not allowed', () => {
  test('PUT on the collection lists the allowed methods', async () => {
    const res = await c.request('PUT', '/api/v1/notes', { title: 'x' });
    const p = assertProblem(res, 405);
    assert.equal(res.headers.allow, 'GET, HEAD, POST, OPTIONS');
    assert.match(p.detail, /PUT is not allowed/);
  });

  test('POST on an item and DELETE on /healthz', async () => {
    const res = await c.post('/api/v1/notes/00000000-0000-7000-8000-000000000000', { title: 'x' });
    assertProblem(res, 405);
    const allow = res.headers.allow.split(', ');
    for (const m of ['GET', 'PATCH', 'DELETE']) assert.ok(allow.includes(m), `Allow has ${m}: ${res.headers.allow}`);
    assert.ok(!allow.includes('POST'));
    const h = await c.delete('/healthz');
    assertProblem(h, 405);
    assert.equal(h.headers.allow, 'GET, HEAD, OPTIONS');
  });
});

describe('413, 415, 422', () => {
  test('413 body over server.max_body is problem+json', async () => {
    const res = await c.post('/api/v1/notes', { title: 'big', body: 'x'.repeat(MAX_BODY * 2) });
    const p = assertProblem(res, 413);
    assert.match(p.detail, new RegExp(`${MAX_BODY}`));
    assert.match(p.type, /body-too-large/);
  });

  test('a body just under the limit is accepted', async () => {
    const body = 'y'.repeat(MAX_BODY - 100);
    const res = await c.post('/api/v1/notes', { title: 'fits', body });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.body.length, body.length);
  });

  test('415 wrong content type', async () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
      const res = await c.post('/api/v1/notes', JSON.stringify({ title: 'x' }), { 'content-type': ct });
      const p = assertProblem(res, 415);
      assert.match(p.detail, /application\/json/, ct);
    }
  });

  test('415 missing content type', async () => {
    assertProblem(await c.post('/api/v1/notes', '{"title":"x"}'), 415);
  });

  test('+json and charset=utf-8 are accepted', async () => {
    const a = await c.post('/api/v1/notes', '{"title":"x"}', { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(a.status, 201, a.text);
    const b = await c.post('/api/v1/notes', '{"title":"x"}', { 'content-type': 'application/merge-patch+json' });
    assert.equal(b.status, 201, b.text);
  });

  test('422 unknown field', async () => {
    const p = assertProblem(await c.post('/api/v1/notes', { title: 'x', colour: 'red' }), 422);
    assert.deepEqual(fieldsOf(p), ['colour']);
    assert.match(p.errors[0].message, /not a known field/);
  });

  test('422 title too long (201 chars) but 200 is fine', async () => {
    const p = assertProblem(await c.post('/api/v1/notes', { title: 't'.repeat(201) }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
    assert.match(p.errors[0].message, /at most 200/);
    // limits count characters, not bytes
    assert.equal((await c.post('/api/v1/notes', { title: 'é'.repeat(200) })).status, 201);
  });

  test('422 wrong type, missing and empty title', async () => {
    let p = assertProblem(await c.post('/api/v1/notes', { title: 42 }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
    assert.match(p.errors[0].message, /string/);
    p = assertProblem(await c.post('/api/v1/notes', { body: 'no title' }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
    assert.match(p.errors[0].message, /required/);
    p = assertProblem(await c.post('/api/v1/notes', { title: '' }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
    p = assertProblem(await c.post('/api/v1/notes', { title: null }), 422);
    assert.deepEqual(fieldsOf(p), ['title']);
  });

  test('422 lists every invalid field at once', async () => {
    const p = assertProblem(await c.post('/api/v1/notes', { title: 1, body: false, extra: 1 }), 422);
    assert.deepEqual(fieldsOf(p).sort(), ['body', 'extra', 'title']);
  });

  test('422 a body that is not an object', async () => {
    const p = assertProblem(await c.post('/api/v1/notes', '[1,2]', { 'content-type': 'application/json' }), 422);
    assert.equal(p.errors.length, 1);
  });

  test('422 invalid query: limit=0, limit=abc, limit=201, unknown parameter', async () => {
    for (const [qs, field, msg] of [
      ['limit=0', 'limit', /at least 1/],
      ['limit=abc', 'limit', /integer/],
      ['limit=201', 'limit', /at most 200/],
      ['colour=red', 'colour', /not a known query parameter/],
      ['limit=1&limit=2', 'limit', /more than once/],
    ]) {
      const p = assertProblem(await c.get(`/api/v1/notes?${qs}`), 422);
      assert.deepEqual(fieldsOf(p), [field], qs);
      assert.match(p.errors[0].message, msg, qs);
    }
  });
});

describe('request ids', () => {
  test('a valid X-Request-Id is echoed on success and in problems', async () => {
    const ok = await anon.get('/healthz', { 'x-request-id': 'abc-123_x.y:z' });
    assert.equal(ok.headers['x-request-id'], 'abc-123_x.y:z');
    const bad = await anon.get('/nope', { 'x-request-id': 'trace-42' });
    const p = assertProblem(bad, 404);
    assert.equal(p.request_id, 'trace-42');
  });

  test('a missing X-Request-Id is generated (UUID, unique)', async () => {
    const a = await anon.get('/healthz');
    const b = await anon.get('/healthz');
    assert.match(a.headers['x-request-id'], UUID_RE);
    assert.match(b.headers['x-request-id'], UUID_RE);
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  test('an X-Request-Id with invalid characters or too long is replaced', async () => {
    for (const bad of ['has space', 'semi;colon', '<script>', 'x'.repeat(200)]) {
      const res = await anon.get('/healthz', { 'x-request-id': bad });
      assert.equal(res.status, 200);
      assert.match(res.headers['x-request-id'], UUID_RE, bad);
    }
  });

  test('the 413 answered before routing also carries the given request id', async () => {
    const res = await c.post('/api/v1/notes', { title: 'big', body: 'x'.repeat(MAX_BODY * 2) }, { 'x-request-id': 'big-1' });
    const p = assertProblem(res, 413);
    assert.equal(p.request_id, 'big-1');
  });
});

describe('HEAD and OPTIONS', () => {
  test('HEAD answers the GET headers and no body (raw socket)', async () => {
    const get = await anon.get('/healthz');
    const { responses, socket } = await rawExchange(srv.port,
      'HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: after-head\r\n\r\n',
      { count: 2, methods: ['HEAD', 'GET'] });
    socket.destroy();
    assert.equal(responses.length, 2);
    const [head, next] = responses;
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    assert.equal(head.headers['content-type'], get.headers['content-type']);
    assert.equal(head.body, '');
    // had HEAD sent a body, the next response would not start right after its headers
    assert.equal(next.status, 200);
    assert.equal(next.headers['x-request-id'], 'after-head');
    assert.equal(next.body, '{"status":"ok"}');
  });

  test('HEAD on a protected route still needs the token', async () => {
    const res = await anon.head('/api/v1/notes');
    assert.equal(res.status, 401);
    assert.equal(res.text, '');
    const ok = await c.head('/api/v1/notes');
    assert.equal(ok.status, 200);
    assert.equal(ok.text, '');
  });

  test('OPTIONS answers 204 with Allow', async () => {
    const res = await anon.options('/api/v1/notes');
    assert.equal(res.status, 204);
    assert.equal(res.headers.allow, 'GET, HEAD, POST, OPTIONS');
    assert.equal(res.text, '');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const item = await anon.options('/api/v1/notes/00000000-0000-7000-8000-000000000000');
    assert.equal(item.status, 204);
    assert.equal(item.headers.allow, 'GET, HEAD, PATCH, DELETE, OPTIONS');
  });

  test('OPTIONS on an unknown path is 404', async () => {
    assertProblem(await anon.options('/nowhere'), 404);
  });

  test('CORS preflight from an allowed origin', async () => {
    const res = await anon.options('/api/v1/notes', {
      origin: ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.match(res.headers['access-control-allow-methods'], /\bPOST\b/);
    assert.match(res.headers['access-control-allow-headers'], /Authorization/);
    assert.match(res.headers['access-control-allow-headers'], /Content-Type/);
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.match(res.headers.vary ?? '', /Origin/);
  });

  test('CORS preflight from another origin is 403', async () => {
    const res = await anon.options('/api/v1/notes', {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
    });
    const p = assertProblem(res, 403);
    assert.match(p.detail, /origin/);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-allow-methods'], undefined);
  });

  test('CORS on a simple request: allowed origin gets headers, others none', async () => {
    const ok = await c.get('/api/v1/notes?limit=1', { origin: ORIGIN });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], ORIGIN);
    assert.match(ok.headers['access-control-expose-headers'], /X-Request-Id/);
    const other = await c.get('/api/v1/notes?limit=1', { origin: `${ORIGIN}.evil` });
    assert.equal(other.status, 200);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    // errors carry CORS headers too, so browsers can read them
    const err = await anon.get('/api/v1/notes', { origin: ORIGIN });
    assert.equal(err.status, 401);
    assert.equal(err.headers['access-control-allow-origin'], ORIGIN);
  });
});

describe('HTTP/1.1 connection handling', () => {
  test('two pipelined requests in one write get two responses in order; the connection stays open', async () => {
    const reqs =
      'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-1\r\n\r\n' +
      `GET /api/v1/notes?limit=1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\nX-Request-Id: pipe-2\r\n\r\n`;
    const first = await rawExchange(srv.port, reqs, { count: 2 });
    assert.equal(first.closed, false);
    assert.equal(first.responses.length, 2);
    const [a, b] = first.responses;
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-request-id'], 'pipe-1');
    assert.deepEqual(JSON.parse(a.body), { status: 'ok' });
    assert.equal(b.status, 200);
    assert.equal(b.headers['x-request-id'], 'pipe-2');
    assert.ok(Array.isArray(JSON.parse(b.body).items));
    // keep-alive: a third request on the same socket
    const third = await rawExchange(srv.port, 'GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-3\r\n\r\n',
      { socket: first.socket });
    first.socket.destroy();
    assert.equal(third.responses[0].status, 200);
    assert.equal(third.responses[0].headers['x-request-id'], 'pipe-3');
  });

  test('pipelined POSTs with bodies are answered in order', async () => {
    const mk = (t, id) => {
      const body = JSON.stringify({ title: t });
      return `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\n\r\n${body}`;
    };
    const { responses, socket } = await rawExchange(srv.port, mk('pipe-a', 'pa') + mk('pipe-b', 'pb') + mk('', 'pc'), { count: 3 });
    socket.destroy();
    assert.deepEqual(responses.map((r) => r.status), [201, 201, 422]);
    assert.deepEqual(responses.map((r) => r.headers['x-request-id']), ['pa', 'pb', 'pc']);
    assert.equal(JSON.parse(responses[0].body).title, 'pipe-a');
    assert.equal(JSON.parse(responses[1].body).title, 'pipe-b');
  });

  test('Connection: close is honoured', async () => {
    const { responses, closed } = await rawExchange(srv.port, 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
      { count: 2, timeoutMs: 3000 });
    assert.equal(responses.length, 1);
    assert.equal(responses[0].status, 200);
    assert.equal(closed, true);
  });

  test('a non-keep-alive client works (fresh connection per request)', async () => {
    const res = await request(`${srv.url}/healthz`, { keepAlive: false });
    assert.equal(res.status, 200);
  });
});

/** Titles of the notes the bootstrap tenant has (up to 200). */
async function noteTitles() {
  const res = await c.get('/api/v1/notes?limit=200');
  assert.equal(res.status, 200, res.text);
  return res.json.items.map((n) => n.title);
}

/** The answer is a problem+json 400 with Connection: close, alone, and the server closed. */
function assertRefusedAndClosed({ responses, closed }, detail) {
  assert.equal(responses.length, 1, `exactly one answer, got ${responses.map((r) => r.status)}`);
  const [r] = responses;
  assert.equal(r.status, 400, r.body);
  assert.match(r.headers['content-type'], /^application\/problem\+json/);
  assert.equal(r.headers.connection, 'close');
  const p = JSON.parse(r.body);
  assert.equal(p.type, 'urn:cairn:problem:bad-request');
  assert.match(p.detail, detail);
  assert.equal(closed, true, 'the connection is closed');
}

describe('request framing (RFC 9112 section 6.3): no request smuggling', () => {
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  // a complete request hidden where one parser sees body and another a next request
  const smuggled = (title) => {
    const body = JSON.stringify({ title });
    return `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`;
  };

  test('two Content-Length lines: 400, closed, the bytes after the first length never run', async () => {
    const hidden = smuggled('smuggled-cl');
    const body = `{"title":"front-cl"}${hidden}`;
    const r = await rawExchange(srv.port,
      `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: 20\r\nContent-Length: ${body.length}\r\n\r\n${body}`, { count: 2 });
    assertRefusedAndClosed(r, /2 Content-Length/);
    const titles = await noteTitles();
    assert.ok(!titles.includes('smuggled-cl') && !titles.includes('front-cl'), 'neither request ran');
  });

  test('Content-Length beside Transfer-Encoding: 400, closed, nothing runs', async () => {
    const hidden = smuggled('smuggled-te');
    const r = await rawExchange(srv.port,
      `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${5 + hidden.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`, { count: 2 });
    assertRefusedAndClosed(r, /1 Content-Length and 1 Transfer-Encoding/);
    assert.ok(!(await noteTitles()).includes('smuggled-te'));
  });

  test('two Transfer-Encoding lines: 400, closed', async () => {
    const r = await rawExchange(srv.port,
      `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\n` +
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n',
      { count: 2 });
    assertRefusedAndClosed(r, /2 Transfer-Encoding/);
  });

  test('a folded header line (obs-fold): 400, closed', async () => {
    const r = await rawExchange(srv.port,
      'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n b\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n', { count: 2 });
    assertRefusedAndClosed(r, /obs-fold/);
  });

  test('one Content-Length (also 0 on a GET) keeps the connection and the next request', async () => {
    const body = JSON.stringify({ title: 'framed-once' });
    const r = await rawExchange(srv.port,
      `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n`, { count: 2 });
    r.socket.destroy();
    assert.deepEqual(r.responses.map((x) => x.status), [201, 200]);
    assert.equal(r.closed, false);
  });

  test('two Host lines: 400, closed (RFC 9112 section 3.2)', async () => {
    const r = await rawExchange(srv.port,
      'GET /healthz HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n', { count: 2 });
    assertRefusedAndClosed(r, /more than one Host/);
  });

  test('a pipeline of GETs is answered in order: every head is checked where it starts', async () => {
    const get = (p) => `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`;
    const r = await rawExchange(srv.port, get('/healthz') + get('/nowhere') + get('/readyz'), { count: 3 });
    r.socket.destroy();
    assert.deepEqual(r.responses.map((x) => x.status), [200, 404, 200]);
    assert.equal(r.closed, false);
  });

  test('HTTP/1.1 without Host is 400 problem+json; HTTP/1.0 without Host is served', async () => {
    const r11 = await rawExchange(srv.port, 'GET /healthz HTTP/1.1\r\n\r\n');
    r11.socket.destroy();
    assert.equal(r11.responses[0].status, 400);
    assert.match(r11.responses[0].headers['content-type'], /^application\/problem\+json/);
    assert.match(JSON.parse(r11.responses[0].body).detail, /Host/);
    const r10 = await rawExchange(srv.port, 'GET /healthz HTTP/1.0\r\n\r\n');
    r10.socket.destroy();
    assert.equal(r10.responses[0].status, 200);
  });
});

describe('answers given before a handler runs (the docs/api.md table)', () => {
  const post = (headers, body = '') => `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
    `Content-Type: application/json\r\n${headers}\r\n${body}`;

  /** One problem+json answer of status with the given type suffix; the connection closed. */
  function assertH2oProblem({ responses, closed }, status, slug, detail) {
    assert.equal(responses.length, 1);
    const [r] = responses;
    assert.equal(r.status, status, r.body);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.match(r.headers['x-request-id'] ?? '', /./);
    const p = JSON.parse(r.body);
    assert.equal(p.type, `urn:cairn:problem:${slug}`);
    assert.equal(p.status, status);
    assert.match(p.detail, detail);
    assert.equal(p.request_id, r.headers['x-request-id']);
    assert.equal(closed, true);
  }

  test('unknown Expect: 417 expectation-failed', async () => {
    const r = await rawExchange(srv.port, post('Expect: something-else\r\nContent-Length: 2\r\n', '{}'), { count: 2 });
    assertH2oProblem(r, 417, 'expectation-failed', /unknown expectation/);
    assert.match(r.raw.toString('latin1'), /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  });

  test('Expect: 100-continue gets 100 Continue, then the answer', async () => {
    const s = await rawExchange(srv.port, post('Expect: 100-continue\r\nContent-Length: 18\r\n'), { timeoutMs: 5000 });
    assert.match(s.raw.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    const r = await rawExchange(srv.port, '{"title":"asked"}\n', { socket: s.socket, count: 1 });
    s.socket.destroy();
    const res = r.responses.find((x) => x.status !== 100);
    assert.equal(res?.status, 201);
  });

  test('unknown Transfer-Encoding: 400 bad-request naming it', async () => {
    const r = await rawExchange(srv.port, post('Transfer-Encoding: gzip\r\n'), { count: 2 });
    assertH2oProblem(r, 400, 'bad-request', /unknown transfer-encoding/);
    assert.match(r.raw.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test('a Content-Length that is not a number: 400 bad-request', async () => {
    const r = await rawExchange(srv.port, post('Content-Length: 12abc\r\n'), { count: 2 });
    assertH2oProblem(r, 400, 'bad-request', /broken content-length/);
  });

  test('a broken chunked body: 400 bad-request', async () => {
    const r = await rawExchange(srv.port, post('Transfer-Encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n'), { count: 2 });
    assertH2oProblem(r, 400, 'bad-request', /broken chunked-encoding/);
  });

  test('a declared body over server.max_body: 413 body-too-large', async () => {
    const r = await rawExchange(srv.port, post(`Content-Length: ${MAX_BODY + 1}\r\n`), { count: 2 });
    assertH2oProblem(r, 413, 'body-too-large', /server\.max_body/);
  });

  test('a request target over 8 KiB: 414 uri-too-long', async () => {
    const r = await rawExchange(srv.port, `GET /healthz?q=${'a'.repeat(8200)} HTTP/1.1\r\nHost: t\r\n\r\n`);
    r.socket.destroy();
    assert.equal(r.responses[0].status, 414);
    assert.equal(JSON.parse(r.responses[0].body).type, 'urn:cairn:problem:uri-too-long');
  });

  test('headers over 32 KiB in up to 100 lines: 431 headers-too-large', async () => {
    const r = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(33 * 1024)}\r\n\r\n`);
    r.socket.destroy();
    assert.equal(r.responses[0].status, 431);
    assert.match(r.responses[0].headers['content-type'], /^application\/problem\+json/);
    assert.equal(JSON.parse(r.responses[0].body).type, 'urn:cairn:problem:headers-too-large');
  });

  test('100 header lines are served; 101 get h2o\'s own plain-text 400 and a close', async () => {
    const lines = (n) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const ok = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\n${lines(100)}\r\n`);
    ok.socket.destroy();
    assert.equal(ok.responses[0].status, 200);
    const bad = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\n${lines(101)}\r\n`, { count: 2 });
    assert.equal(bad.responses.length, 1);
    assert.equal(bad.responses[0].status, 400);
    assert.match(bad.responses[0].headers['content-type'], /^text\/plain/);
    assert.equal(bad.responses[0].body, 'Bad Request');
    assert.equal(bad.closed, true);
  });

  test('a request line h2o cannot parse: its own plain-text 400 and a close', async () => {
    const r = await rawExchange(srv.port, 'GET /healthz HTTP/1.1 extra\r\nHost: t\r\n\r\n', { count: 2 });
    assert.equal(r.responses.length, 1);
    assert.equal(r.responses[0].status, 400);
    assert.match(r.responses[0].headers['content-type'], /^text\/plain/);
    assert.equal(r.closed, true);
  });
});
