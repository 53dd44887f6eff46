// TLS with HTTP/2 (ALPN), and the failure answers that need a broken store to provoke:
// 500 without internals (the log has them) and 503 from /readyz.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  TOKEN, api, assertProblem, dbExec, onPostgres, runProgram, startServer, stopAllServers, tempDir, waitFor,
} from './lib/server.mjs';

after(stopAllServers);

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI. */
async function makeCert() {
  const dir = tempDir('cairn-tls-');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = await runProgram('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
  assert.equal(r.code, 0, r.stderr);
  return { cert, key };
}

/** One HTTP/2 request; resolves to {status, headers, body, alpn}. */
function h2request(url, ca, { method = 'GET', path: p = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca });
    session.on('error', reject);
    const req = session.request({ ':method': method, ':path': p, ...headers });
    const chunks = [];
    let head;
    req.on('response', (h) => { head = h; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status: head[':status'], headers: head, body: Buffer.concat(chunks).toString('utf8'), alpn });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS and HTTP/2', () => {
  test('with a certificate the server speaks HTTP/2 over TLS (ALPN h2) and serves the API', async () => {
    const { cert, key } = await makeCert();
    const s = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
    assert.match(s.url, /^https:/);
    const ca = readFileSync(cert);
    const health = await h2request(s.url, ca, { path: '/healthz' });
    assert.equal(health.alpn, 'h2');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    assert.match(health.headers['strict-transport-security'], /^max-age=31536000/);
    assert.equal(health.headers['referrer-policy'], 'no-referrer');

    const created = await h2request(s.url, ca, {
      method: 'POST', path: '/api/v1/notes',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ title: 'over h2' }),
    });
    assert.equal(created.status, 201);
    assert.equal(JSON.parse(created.body).title, 'over h2');

    const missing = await h2request(s.url, ca, { path: '/nope' });
    assert.equal(missing.status, 404);
    assert.match(missing.headers['content-type'], /^application\/problem\+json/);
    assert.equal(await s.stop(), 0);
  });

  test('plain HTTP answers carry no HSTS but the other security headers', async () => {
    const s = await startServer();
    const res = await api(s.url, null).get('/healthz');
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
  });

  test('a certificate without its key is a configuration error (78)', async () => {
    const { cert } = await makeCert();
    await assert.rejects(startServer({ args: ['--tls-cert', cert] }), /exited with 78/);
  });
});

describe('store failures', () => {
  test('a 500 shows no internals; the log has the cause under the same request id', async () => {
    const s = await startServer();
    const c = api(s.url);
    assert.equal((await c.post('/api/v1/notes', { title: 'before' })).status, 201);
    await dbExec(s, 'DROP TABLE notes');

    const res = await c.get('/api/v1/notes');
    assertProblem(res, 500);
    assert.doesNotMatch(res.text, /notes|sqlite|table/i, 'no internals in the answer');
    const id = res.json.request_id;
    const line = await waitFor(() => s.logs().find((l) => l.level === 'error' && l.request_id === id),
      3000, 'the error log line');
    assert.match(line.msg, onPostgres ? /relation "notes" does not exist/ : /no such table: notes/);
    assert.equal((await c.get('/healthz')).status, 200, 'the server stays up');
  });

  test('/readyz answers 503 while a migration is pending', async () => {
    const s = await startServer();
    const anon = api(s.url, null);
    assert.equal((await anon.get('/readyz')).status, 200);
    await dbExec(s, "DELETE FROM schema_migrations WHERE module = 'notes' AND version = 1");
    const res = await anon.get('/readyz');
    assertProblem(res, 503);
    assert.match(res.json.detail, /1 migrations are pending/);
    assert.equal(res.headers['retry-after'], '1', 'every 503 says when to try again');
  });
});
