// A console page's query string belongs to the page's script (filters kept in the URL, the
// token of a mailed link): the server answers the page for any of them, and an API route
// still refuses parameters it does not know.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request, startServer, stopAllServers } from './lib/server.mjs';

after(stopAllServers);
let srv;
before(async () => { srv = await startServer(); });

test('console routes answer the page whatever the query string; API routes still check theirs', async () => {
  for (const p of ['/console/reset-password?token=abc_-1', '/console/insights?range=7d&channel=email&channel=chat',
    '/console/?x', '/console?q=%E2%9C%93']) {
    const r = await request(`${srv.url}${p}`);
    assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 200)}`);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.headers['content-security-policy'], /script-src 'self'/);
  }
  const api = await request(`${srv.url}/healthz?nonsense=1`);
  assert.equal(api.status, 422, 'an API route refuses an unknown parameter as before');
});
