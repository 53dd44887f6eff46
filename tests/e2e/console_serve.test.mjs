// How the binary serves the console's build (docs/console.md, "How it is served and built"),
// over HTTP against the real binary, no browser: the page at /console and /console/ with
// no-cache and a strict CSP, the hashed assets immutable, gzip when asked and identity when
// not, 304 on If-None-Match, the SPA fallback for a deep link, 404 problem+json for a missing
// asset (never the page), HEAD, 405 for other methods, paths with "." / ".." refused, and the
// bytes served equal to the files of the build directory's console-dist/.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CAIRN_BIN, assertProblem, startServer, stopAllServers } from './lib/server.mjs';

// the Vite build the binary embedded: each build directory has its own
const DIST = path.join(path.dirname(CAIRN_BIN), 'console-dist');
const CSP_DIRECTIVES = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
  "font-src 'self'", "connect-src 'self'", "base-uri 'none'", "form-action 'self'",
  "frame-ancestors 'none'",
];

let srv;

before(async () => {
  srv = await startServer();
});
after(stopAllServers);

/** GET (or method) of a raw path, sent as it is (no URL normalisation); body as a Buffer. */
function fetchRaw(rawPath, { method = 'GET', headers = {} } = {}) {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: rawPath, method, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, body, text: body.toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function assertStrictCsp(res) {
  const csp = res.headers['content-security-policy'];
  assert.ok(csp, `no CSP on ${res.status}`);
  for (const d of CSP_DIRECTIVES) assert.ok(csp.split(/;\s*/).includes(d), `CSP lacks ${d}: ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|data:|\*/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.ok(res.headers['referrer-policy'], 'a referrer policy');
}

function distFiles(dir = DIST, prefix = '') {
  const out = [];
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...distFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

const indexHtml = () => readFileSync(path.join(DIST, 'index.html'));
/** The entry script that index.html names (its hashed name changes with every build). */
function entryScript() {
  const m = /src="\/console\/(assets\/[^"]+\.js)"/.exec(indexHtml().toString('utf8'));
  assert.ok(m, 'index.html names an entry script under /console/assets/');
  return m[1];
}

describe('console: the page', () => {
  for (const p of ['/console', '/console/', '/console/index.html']) {
    test(`${p} is index.html, revalidated on every visit, under a strict CSP`, async () => {
      const r = await fetchRaw(p);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.match(r.headers.etag, /^"[A-Za-z0-9_-]+"$/);
      assert.deepEqual(r.body, indexHtml());
      assertStrictCsp(r);
    });
  }

  test('the built page has no inline script or style the CSP would refuse', () => {
    const html = indexHtml().toString('utf8');
    for (const m of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      assert.match(m[0], /\bsrc="\/console\//, `inline script: ${m[0]}`);
      assert.equal(m[1].trim(), '');
    }
    assert.doesNotMatch(html, /<style\b|\sstyle="|\son[a-z]+="|javascript:/i);
  });

  test('If-None-Match with its ETag answers 304 without a body', async () => {
    const first = await fetchRaw('/console/');
    const r = await fetchRaw('/console/', { headers: { 'if-none-match': first.headers.etag } });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers.etag, first.headers.etag);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['content-length'], undefined);
    const other = await fetchRaw('/console/', { headers: { 'if-none-match': '"something-else"' } });
    assert.equal(other.status, 200);
  });

  test('a deep link (a client-side route, any query string) gets the page, no-cache', async () => {
    for (const p of ['/console/insights/customers/123', '/console/admin/keys/', '/console/a%20b',
      '/console/insights?range=30d&channels=email,chat', '/console/?x=1&x=2&y', '/console?a=%ZZ']) {
      const r = await fetchRaw(p);
      assert.equal(r.status, 200, `${p}: ${r.text}`);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.deepEqual(r.body, indexHtml());
      assertStrictCsp(r);
    }
  });
});

describe('console: hashed assets', () => {
  test('the entry script is immutable, and the same bytes as the build', async () => {
    const name = entryScript();
    const r = await fetchRaw(`/console/${name}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.headers.vary, 'accept-encoding');
    assert.deepEqual(r.body, readFileSync(path.join(DIST, name)));
    assertStrictCsp(r);
  });

  test('gzip when the client accepts it, identity when it does not or refuses it', async () => {
    const name = entryScript();
    const raw = readFileSync(path.join(DIST, name));
    const gz = await fetchRaw(`/console/${name}`, { headers: { 'accept-encoding': 'br, gzip, deflate' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'accept-encoding');
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    assert.ok(gz.body.length < raw.length / 2, `gzip ${gz.body.length} of ${raw.length} bytes`);
    assert.deepEqual(gunzipSync(gz.body), raw);
    for (const ae of ['identity', 'gzip;q=0', 'br']) {
      const id = await fetchRaw(`/console/${name}`, { headers: { 'accept-encoding': ae } });
      assert.equal(id.headers['content-encoding'], undefined, ae);
      assert.deepEqual(id.body, raw, ae);
    }
    // another representation, another strong ETag
    const plain = await fetchRaw(`/console/${name}`);
    assert.notEqual(gz.headers.etag, plain.headers.etag);
  });

  test('If-None-Match answers 304 for the copy served, only', async () => {
    const name = entryScript();
    const plain = await fetchRaw(`/console/${name}`);
    const gz = await fetchRaw(`/console/${name}`, { headers: { 'accept-encoding': 'gzip' } });
    for (const [tag, ae] of [[plain.headers.etag, undefined], [gz.headers.etag, 'gzip'],
      [`W/${plain.headers.etag}`, undefined], [`"x", ${gz.headers.etag}`, 'gzip']]) {
      const headers = { 'if-none-match': tag, ...(ae ? { 'accept-encoding': ae } : {}) };
      const r = await fetchRaw(`/console/${name}`, { headers });
      assert.equal(r.status, 304, tag);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    }
    // the other copy's tag validates nothing: the bytes this client gets are not those
    for (const [tag, ae, enc] of [[gz.headers.etag, undefined, undefined], [plain.headers.etag, 'gzip', 'gzip']]) {
      const headers = { 'if-none-match': tag, ...(ae ? { 'accept-encoding': ae } : {}) };
      const r = await fetchRaw(`/console/${name}`, { headers });
      assert.equal(r.status, 200, tag);
      assert.equal(r.headers['content-encoding'], enc, tag);
      assert.ok(r.body.length > 0);
    }
  });

  test('every file of the build is served with its own bytes', async () => {
    const files = distFiles();
    assert.ok(files.includes('index.html') && files.length >= 2, files.join(', '));
    for (const f of files) {
      const r = await fetchRaw(`/console/${f}`);
      assert.equal(r.status, 200, f);
      assert.deepEqual(r.body, readFileSync(path.join(DIST, f)), f);
      assert.equal(r.headers['cache-control'],
        f.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache', f);
    }
  });

  test('a missing file under /console/assets/ is a 404 problem, never the page', async () => {
    for (const p of ['/console/assets/x.js', '/console/assets/index-00000000.css',
      '/console/assets/', '/console/assets/deep/er.js']) {
      const r = await fetchRaw(p);
      assertProblem({ ...r, text: r.text }, 404);
      assert.doesNotMatch(r.text, /<html/i);
      assertStrictCsp(r);
    }
  });
});

describe('console: methods and odd paths', () => {
  test('HEAD gives the headers of GET and no body', async () => {
    const name = entryScript();
    const get = await fetchRaw(`/console/${name}`, { headers: { 'accept-encoding': 'gzip' } });
    const head = await fetchRaw(`/console/${name}`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const h of ['content-type', 'content-length', 'content-encoding', 'etag', 'cache-control'])
      assert.equal(head.headers[h], get.headers[h], h);
    const page = await fetchRaw('/console/insights', { method: 'HEAD' });
    assert.equal(page.status, 200);
    assert.equal(Number(page.headers['content-length']), indexHtml().length);
  });

  test('POST, PUT and DELETE are 405 problems with Allow', async () => {
    for (const [method, p] of [['POST', '/console'], ['POST', '/console/'], ['PUT', `/console/${entryScript()}`],
      ['DELETE', '/console/insights/customers/1']]) {
      const r = await fetchRaw(p, { method });
      assertProblem(r, 405);
      assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      assertStrictCsp(r);
    }
  });

  test('"." and ".." segments, empty segments, backslashes and control bytes are refused', async () => {
    for (const p of ['/console/../healthz', '/console/..', '/console/assets/../index.html',
      '/console/%2e%2e/healthz', '/console/%2E%2E%2Fhealthz', '/console/assets/..%2findex.html',
      '/console/./index.html', '/console/a//b', '/console/..%5c..%5cetc', '/console/a%0ab',
      '/console/a%7f']) {
      const r = await fetchRaw(p);
      assertProblem(r, 400);
      assert.doesNotMatch(r.text, /<html/i, p);
      assertStrictCsp(r);
    }
    assertProblem(await fetchRaw('/console/%zz'), 400); // a malformed escape (the router)
    assertProblem(await fetchRaw('/console/%00'), 400);
  });

  test('an escape is decoded before the checks: an encoded slash finds the same file', async () => {
    const r = await fetchRaw(`/console/${entryScript().replace('/', '%2F')}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, readFileSync(path.join(DIST, entryScript())));
  });

  test('length limits: a path over 512 bytes is refused, one over 24 segments is not found', async () => {
    assertProblem(await fetchRaw(`/console/${'a'.repeat(513)}`), 400);
    assert.equal((await fetchRaw(`/console/${'a'.repeat(512)}`)).status, 200);
    assertProblem(await fetchRaw(`/console${'/s'.repeat(30)}`), 404);
  });

  test('no console path is an API operation in the OpenAPI document', async () => {
    const r = await fetchRaw('/api/openapi.json');
    const doc = JSON.parse(r.text);
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/console')), []);
  });
});
