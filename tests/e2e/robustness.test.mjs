// Hostile and broken input over raw sockets and HTTP: the server answers or closes, never
// hangs, never crashes, and keeps serving everyone else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  TOKEN, api, assertProblem, connect, rawExchange, request, sleep, startServer, stopAllServers, withTimeout,
} from './lib/server.mjs';

const REQUEST_TIMEOUT_MS = 1000;
const JSON_CT = { 'content-type': 'application/json' };

let srv;
let c;

after(stopAllServers);

before(async () => {
  srv = await startServer({ env: { CAIRN_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } });
  c = api(srv.url);
});

/** /healthz answers 200 on a fresh connection within ms. */
async function assertHealthy(s = srv, ms = 2000) {
  const t0 = Date.now();
  const res = await request(`${s.url}/healthz`, { keepAlive: false, timeoutMs: ms });
  assert.equal(res.status, 200);
  assert.ok(Date.now() - t0 < ms);
  assert.equal(s.proc.exitCode, null, 'server still running');
}

/** Resolves with the ms until the server closes socket s (rejects after timeoutMs). */
function closedAfter(s, timeoutMs) {
  const t0 = Date.now();
  return withTimeout(new Promise((resolve) => {
    if (s.destroyed) resolve(0);
    s.on('close', () => resolve(Date.now() - t0));
    s.on('error', () => {});
    s.resume(); // read (and drop) whatever the server sends
  }), timeoutMs, 'server to close the socket');
}

/**
 * The request was refused for its size: the connection was closed, or the answer is one of
 * the statuses meant for that (400, 413, 414, 431) rather than a routed answer.
 */
function assertRefused({ responses, closed }) {
  if (responses.length === 0) {
    assert.ok(closed, 'no response and not closed');
    return;
  }
  assert.ok([400, 413, 414, 431].includes(responses[0].status),
    `expected 400/413/414/431 or a close, got ${responses[0].status} ${responses[0].body.slice(0, 120)}`);
}

describe('incomplete and oversized requests', () => {
  test('a request whose headers never finish is closed within server.request_timeout_ms', async () => {
    const s = await connect(srv.port);
    let got = '';
    s.on('data', (d) => { got += d; });
    const closed = closedAfter(s, REQUEST_TIMEOUT_MS + 4000);
    s.write('GET /healthz HTTP/1.1\r\nHost: t\r\nX-Waiting: ');
    const ms = await closed;
    assert.ok(ms >= REQUEST_TIMEOUT_MS - 200, `closed after ${ms} ms, not before the timeout`);
    assert.ok(ms <= REQUEST_TIMEOUT_MS + 2000, `closed after ${ms} ms`);
    assert.ok(got === '' || /^HTTP\/1\.1 4\d\d /.test(got), `nothing or a 4xx: ${JSON.stringify(got.slice(0, 40))}`);
    await assertHealthy();
  });

  test('a body shorter than its Content-Length is cut at the timeout and creates nothing', async () => {
    const before = (await c.get('/api/v1/notes?limit=200')).json.items.length;
    const s = await connect(srv.port);
    const closed = closedAfter(s, REQUEST_TIMEOUT_MS + 4000);
    s.write(`POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":"partial"');
    const ms = await closed;
    assert.ok(ms <= REQUEST_TIMEOUT_MS + 2000, `closed after ${ms} ms`);
    assert.equal((await c.get('/api/v1/notes?limit=200')).json.items.length, before);
    await assertHealthy();
  });

  test('a 100 KB header is refused with a 4xx or a close', async () => {
    const { responses, closed, socket } = await rawExchange(srv.port,
      `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`, { timeoutMs: 5000 });
    socket.destroy();
    assertRefused({ responses, closed });
    await assertHealthy();
  });

  test('a 1 MB header and 1000 headers are refused, the server stays up', async () => {
    const big = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(1024 * 1024)}\r\n\r\n`,
      { timeoutMs: 5000 });
    big.socket.destroy();
    assertRefused(big);
    let many = '';
    for (let i = 0; i < 1000; i++) many += `X-H${i}: v\r\n`;
    const lots = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: t\r\n${many}\r\n`, { timeoutMs: 5000 });
    lots.socket.destroy();
    assertRefused(lots);
    await assertHealthy();
  });

  test('a 100 KB URL is refused as too long (not routed)', async () => {
    const r = await rawExchange(srv.port, `GET /healthz?${'q'.repeat(100 * 1024)} HTTP/1.1\r\nHost: t\r\n\r\n`, { timeoutMs: 5000 });
    r.socket.destroy();
    assertRefused(r);
    await assertHealthy();
  });

  test('non-HTTP bytes get a 400 or a close', async () => {
    const r = await rawExchange(srv.port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]),
      { timeoutMs: 5000 });
    r.socket.destroy();
    assert.ok(r.closed || r.responses[0].status === 400);
    await assertHealthy();
  });

  test('a broken chunked body is a problem+json 400; a valid chunked body works', async () => {
    const head = `POST /api/v1/notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const bad = await rawExchange(srv.port, `${head}zz\r\n{}\r\n0\r\n\r\n`, { timeoutMs: 5000 });
    bad.socket.destroy();
    assert.equal(bad.responses[0].status, 400);
    assert.match(bad.responses[0].headers['content-type'], /^application\/problem\+json/);
    const body = '{"title":"chunky"}';
    const good = await rawExchange(srv.port, `${head}${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, { timeoutMs: 5000 });
    good.socket.destroy();
    assert.equal(good.responses[0].status, 201);
    assert.equal(JSON.parse(good.responses[0].body).title, 'chunky');
  });
});

describe('hostile JSON', () => {
  test('invalid UTF-8 in a JSON string is 400', async () => {
    for (const bytes of [
      [0xff], // never valid
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded as UTF-8
      [0xe2, 0x82], // truncated sequence
    ]) {
      const body = Buffer.concat([Buffer.from('{"title":"a'), Buffer.from(bytes), Buffer.from('b"}')]);
      const p = assertProblem(await c.post('/api/v1/notes', body, JSON_CT), 400);
      assert.match(p.detail, /line 1, column \d+/);
      assert.ok(Buffer.from(p.detail).equals(Buffer.from(p.detail, 'utf8')), 'detail is valid UTF-8');
    }
    // invalid UTF-8 in a key, and an escaped lone surrogate
    assertProblem(await c.post('/api/v1/notes', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), JSON_CT), 400);
    assertProblem(await c.post('/api/v1/notes', '{"title":"\\ud800"}', JSON_CT), 400);
    await assertHealthy();
  });

  test('10000-deep nesting is 400, arrays and objects alike', async () => {
    const arrays = '['.repeat(10000) + ']'.repeat(10000);
    let p = assertProblem(await c.post('/api/v1/notes', arrays, JSON_CT), 400);
    assert.match(p.detail, /depth/);
    const objects = '{"a":'.repeat(10000) + '1' + '}'.repeat(10000);
    p = assertProblem(await c.post('/api/v1/notes', objects, JSON_CT), 400);
    assert.match(p.detail, /depth/);
    // unbalanced too
    assertProblem(await c.post('/api/v1/notes', '['.repeat(10000), JSON_CT), 400);
    await assertHealthy();
  });

  test('duplicate keys are 400 (also when the values are equal)', async () => {
    let p = assertProblem(await c.post('/api/v1/notes', '{"title":"a","title":"b"}', JSON_CT), 400);
    assert.match(p.detail, /duplicate/);
    p = assertProblem(await c.post('/api/v1/notes', '{"title":"a","body":"x","body":"x"}', JSON_CT), 400);
    assert.match(p.detail, /duplicate/);
  });

  test('other malformed documents are 400 with a position', async () => {
    for (const doc of ['{"title":"a"} trailing', '\ufeff{"title":"a"}', '{"title":"a",}', "{'title':'a'}",
      '{"title":"a","body":1e999}', 'NaN', '{"title":"a"\u0000}']) {
      const p = assertProblem(await c.post('/api/v1/notes', doc, JSON_CT), 400);
      assert.match(p.detail, /line \d+, column \d+/, JSON.stringify(doc));
    }
  });

  test('a path with a bad percent-escape is 400; too many query parameters is 400', async () => {
    const p = assertProblem(await c.get('/api/v1/notes/%zz'), 400);
    assert.match(p.detail, /percent/);
    const nul = assertProblem(await c.get('/api/v1/notes/ab%00cd'), 400);
    assert.equal(nul.detail, 'a NUL byte (%00) is not allowed in a path');
    const qs = Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&');
    const q = assertProblem(await c.get(`/api/v1/notes?${qs}`), 400);
    assert.match(q.detail, /too many query parameters/);
  });

  test('many concurrent invalid requests leave the server healthy', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      c.post('/api/v1/notes', i % 2 ? '{"title":' : '[[[[', JSON_CT)));
    assert.ok(results.every((r) => r.status === 400));
    await assertHealthy();
  });
});

describe('slow clients', () => {
  test('50 slowloris sockets do not stop /healthz from answering quickly', async () => {
    // default request timeout (10 s), so the slow sockets stay open for the whole test
    const s = await startServer();
    const sockets = await Promise.all(Array.from({ length: 50 }, () => connect(s.port)));
    let closedByServer = 0;
    for (const sock of sockets) {
      sock.on('close', () => { closedByServer++; });
      sock.on('error', () => {});
    }
    const header = 'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'z'.repeat(1000);
    let i = 0;
    const trickle = setInterval(() => {
      for (const sock of sockets) if (!sock.destroyed) sock.write(header[i % header.length]);
      i++;
    }, 200);
    try {
      const latencies = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 2500) {
        const t = Date.now();
        const res = await request(`${s.url}/healthz`, { keepAlive: false, timeoutMs: 2000 });
        assert.equal(res.status, 200);
        latencies.push(Date.now() - t);
        await sleep(100);
      }
      assert.ok(latencies.length >= 10, `${latencies.length} probes`);
      assert.ok(Math.max(...latencies) < 500, `slowest /healthz took ${Math.max(...latencies)} ms`);
      assert.equal(closedByServer, 0, 'the slow sockets were still open during the probes');
      assert.ok(i >= 10, 'bytes kept trickling');
    } finally {
      clearInterval(trickle);
      for (const sock of sockets) sock.destroy();
    }
    assert.equal(await s.stop(), 0);
  });

  test('a client trickling header bytes is cut at server.request_timeout_ms', async () => {
    const sock = await connect(srv.port);
    const closed = closedAfter(sock, REQUEST_TIMEOUT_MS + 4000);
    const header = 'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'z'.repeat(1000);
    let i = 0;
    const trickle = setInterval(() => { if (!sock.destroyed) sock.write(header[i++ % header.length]); }, 100);
    try {
      const ms = await closed;
      assert.ok(ms <= REQUEST_TIMEOUT_MS + 2000, `closed after ${ms} ms`);
    } finally {
      clearInterval(trickle);
      sock.destroy();
    }
    await assertHealthy();
  });

  test('a client that never reads its responses does not block others', async () => {
    const sock = await connect(srv.port);
    sock.on('error', () => {});
    sock.pause();
    const reqs = 'GET /api/openapi.json HTTP/1.1\r\nHost: t\r\n\r\n'.repeat(200);
    sock.write(reqs);
    await sleep(200);
    await assertHealthy(srv, 1000);
    sock.destroy();
  });
});
