// A unit of work per write handler: a handler that fails after its first write leaves
// nothing behind, and the requests that shared its batch are committed and answered.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  api, dbExec, dbValue, onPostgres, request, runCli, runCliWithInput, startServer, stopAllServers,
  tempDir,
} from './lib/server.mjs';

after(stopAllServers);

const PW = 'vivid-Otter-42-lantern';
let srv, data;

/**
 * Makes a statement on table fail with message when the row matches `when` (a condition
 * on NEW): a trigger, the engine's own refusal, as a full disk or a constraint would be.
 */
function failWhen(name, event, table, when, message) {
  return dbExec(data, {
    sqlite: `CREATE TRIGGER ${name} ${event} ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, '${message}'); END`,
    postgres: `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$;
      CREATE TRIGGER ${name} ${event} ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`,
  });
}

function dropFail(name, table) {
  return dbExec(data, { sqlite: `DROP TRIGGER ${name}`, postgres: `DROP TRIGGER ${name} ON ${table}; DROP FUNCTION ${name}()` });
}

async function token(email) {
  const r = await request(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', body: { tenant: 'uw', email, password: PW },
  });
  assert.equal(r.status, 200, r.text);
  return r.json.access_token;
}

before(async () => {
  data = tempDir('cairn-e2e-units-');
  assert.equal((await runCli(['tenant', 'create', '--slug', 'uw', '--name', 'uw', '--data', data])).code, 0);
  for (const [who, role] of [['own', 'owner'], ['mem', 'member']]) {
    const r = await runCliWithInput(['user', 'create', '--tenant', 'uw', '--email', `${who}@u.example`,
      '--role', role, '--password-stdin', '--data', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  // one loop: requests sent together share its turn, and so its batch transaction
  srv = await startServer({ dataDir: data, env: { CAIRN_THREADS: '1' } });
});

test('a handler failing on its second write commits nothing; its batch neighbours commit', async () => {
  const ownToken = await token('own@u.example');
  const own = api(srv.url, ownToken);
  const memToken = await token('mem@u.example'); // a session the role change must end
  const memId = (await api(srv.url, memToken).get('/api/v1/users/me')).json.id;

  // PATCH /users/{id} changes the role, then ends the member's sessions: make that second
  // write fail (a trigger is the engine's own failure, as a full disk or a constraint would be)
  await failWhen('uow_sessions', 'BEFORE UPDATE OF revoked_at', 'sessions', `NEW.user_id = '${memId}'`, 'sessions are frozen');

  const auth = { authorization: `Bearer ${ownToken}` };
  const send = (method, p, body) => request(srv.url + p, { method, body, headers: auth, keepAlive: false });
  const [patched, ...notes] = await Promise.all([
    send('PATCH', `/api/v1/users/${memId}`, { role: 'admin' }),
    ...[1, 2, 3, 4].map((i) => send('POST', '/api/v1/notes', { title: `neighbour ${i}`, body: 'kept' })),
  ]);
  assert.ok(patched.status >= 400, `the role change must fail: ${patched.status} ${patched.text}`);
  for (const n of notes) assert.equal(n.status, 201, n.text);

  // nothing of the failed request: the role, the member's session, no audit entry
  assert.equal(await dbValue(data, `SELECT role FROM memberships WHERE user_id = '${memId}'`), 'member');
  assert.equal((await api(srv.url, memToken).get('/api/v1/users/me')).status, 200);
  const audit = await own.get('/api/v1/audit?limit=200');
  assert.equal(audit.status, 200, audit.text);
  assert.equal(audit.json.items.some((e) => e.action.startsWith('PATCH ')), false, JSON.stringify(audit.json));

  // everything of its neighbours: the notes, their audit entries and their events
  for (const n of notes) assert.equal((await own.get(`/api/v1/notes/${n.json.id}`)).status, 200);
  assert.equal(audit.json.items.filter((e) => e.action === 'POST /api/v1/notes').length, 4);
  assert.equal(await dbValue(data, "SELECT count(*) FROM realtime_events WHERE channel = 'notes'"), 4);

  // and the same change goes through once the second write can succeed
  await dropFail('uow_sessions', 'sessions');
  const ok = await own.patch(`/api/v1/users/${memId}`, { role: 'admin' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(await dbValue(data, `SELECT role FROM memberships WHERE user_id = '${memId}'`), 'admin');
  assert.equal((await api(srv.url, memToken).get('/api/v1/users/me')).status, 401);
  const after = await own.get('/api/v1/audit?limit=200');
  assert.equal(after.json.items.filter((e) => e.action.startsWith('PATCH ')).length, 1);
});

test('a write that fails after the handler went on (sent ahead on PostgreSQL): its request gets its own error, its turn runs again and commits', async () => {
  const auth = { authorization: `Bearer ${await token('own@u.example')}` };
  const reruns = async () => Number(/^cairn_write_reruns_total (\d+)$/m.exec((await api(srv.url).get('/metrics')).text)[1]);
  const before = await reruns();
  await failWhen('uow_notes', 'BEFORE INSERT', 'notes', "NEW.title = 'refused'", 'no such notes');
  const titles = ['ahead 1', 'ahead 2', 'refused', 'ahead 3', 'ahead 4', 'ahead 5'];
  const answers = await Promise.all(titles.map((title) => request(`${srv.url}/api/v1/notes`, {
    method: 'POST', body: { title, body: '' }, headers: auth, keepAlive: false,
  })));
  await dropFail('uow_notes', 'notes');
  const refused = answers[2];
  assert.ok(refused.status >= 400 && refused.status < 600, `${refused.status} ${refused.text}`);
  assert.match(refused.headers['content-type'], /application\/problem\+json/);
  assert.doesNotMatch(refused.text, /sent ahead/, 'the error is the write\'s own, not the turn\'s');
  for (const [i, a] of answers.entries()) if (i !== 2) assert.equal(a.status, 201, a.text);
  assert.equal(await dbValue(data, "SELECT count(*) FROM notes WHERE title LIKE 'ahead %'"), 5);
  assert.equal(await dbValue(data, "SELECT count(*) FROM notes WHERE title = 'refused'"), 0);
  const events = await dbValue(data, "SELECT count(*) FROM realtime_events WHERE channel = 'notes' AND data LIKE '%ahead %'");
  assert.equal(events, 5, 'one event per note kept, none twice');
  // on PostgreSQL the INSERT went ahead without its handler waiting, so its failure showed
  // at the commit, and that turn's writes ran again; on SQLite every write waits
  const ran = (await reruns()) - before;
  if (onPostgres) assert.ok(ran >= 1, `writes run again: ${ran}`);
  else assert.equal(ran, 0);
});

test('an offloaded completion failing on its second write commits nothing', async () => {
  const own = api(srv.url, await token('own@u.example'));
  // POST /users hashes the password on a worker; its completion inserts the user, then the
  // membership: make the second insert fail
  await failWhen('uow_members', 'BEFORE INSERT', 'memberships', "NEW.role = 'viewer'", 'no viewers today');
  const failed = await own.post('/api/v1/users', { email: 'late@u.example', role: 'viewer', password: PW });
  assert.ok(failed.status >= 400, `${failed.status} ${failed.text}`);
  assert.equal(await dbValue(data, "SELECT count(*) FROM users WHERE email = 'late@u.example'"), 0);
  await dropFail('uow_members', 'memberships');
  const added = await own.post('/api/v1/users', { email: 'late@u.example', role: 'viewer', password: PW });
  assert.equal(added.status, 201, added.text);
  assert.equal(await dbValue(data, "SELECT count(*) FROM users WHERE email = 'late@u.example'"), 1);
  const audit = await own.get('/api/v1/audit?limit=200');
  assert.equal(audit.json.items.filter((e) => e.action === 'POST /api/v1/users').length, 1);
});
