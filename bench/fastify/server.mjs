// The Fastify + pg peer of bench/pg.sh: Cairn's GET /api/v1/notes/{id} and POST /api/v1/notes
// on the same PostgreSQL, written the way a careful Node.js team would write them, with the
// work Cairn does per request that a client or the database can see (src/apps/notes/notes.c,
// src/auth/apikeys.c, src/auth/audit.c, src/core/events.c):
//
// - an API key (`Authorization: Bearer cairn_<prefix>_<secret>` or `X-API-Key`) looked up
//   by prefix in api_keys on every request, the SHA-256 of its secret compared in constant
//   time, refused if revoked or expired, its scopes checked against the route's
//   permission, last_used_at written at most once a minute;
// - POST: the body checked against the same JSON schema as Cairn's NoteCreate (Fastify's
//   Ajv: title 1..200 characters on one line, body up to 100 000, no other field), then in
//   one transaction the note, an audit row (salted commitment of the personal fields and a
//   SHA-256 over the entry, as Cairn's columns) and the event: the channel's gap-free
//   seq (upsert of realtime_channels, row locked until commit) and its realtime_events
//   row; 201 with Location and the note (EVENT_SEQ=sequence numbers the event from a
//   PostgreSQL sequence instead: no lock, but gaps on rollback and numbers out of commit
//   order, which Cairn's resume-by-seq cannot accept: to show what the lock costs);
// - GET: an id that is not a UUID is 404, then the select; 200 with the note or 404;
// - errors as problem+json with Cairn's types; X-Request-Id, nosniff and referrer-policy
//   on every answer.
//
// What it does not do (bench/RESULTS.md lists it): chain the audit entries (Cairn takes an
// advisory lock and reads the tail per batch), rate limits, access log, metrics, an
// in-process event bus (cache invalidation, realtime fan-out), graceful drain.
//
//   DATABASE_URL=postgres://… PORT=8093 WORKERS=2 POOL=8 [EVENT_SEQ=sequence] \
//     node bench/fastify/server.mjs
//
// WORKERS processes (node:cluster; default: online CPUs) share the port, each with a pg
// pool of POOL connections. Prints "listening on http://127.0.0.1:PORT" once all listen.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import os from 'node:os';

const PORT = Number(process.env.PORT ?? 8093);
const HOST = process.env.HOST ?? '127.0.0.1';
const WORKERS = Number(process.env.WORKERS || os.availableParallelism());
const POOL = Number(process.env.POOL ?? 8);
const DATABASE_URL = process.env.DATABASE_URL;
const EVENT_SEQ = process.env.EVENT_SEQ ?? 'channel';

if (!DATABASE_URL) {
  console.error('server.mjs: DATABASE_URL is not set');
  process.exit(64);
}

if (cluster.isPrimary && WORKERS > 1) {
  let listening = 0;
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === WORKERS) console.log(`listening on http://${HOST}:${PORT}`);
  });
  cluster.on('exit', (w, code, signal) => {
    console.error(`worker ${w.process.pid} exited (${signal ?? code})`);
    process.exit(1);
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await serve();
}

async function serve() {
  const { default: Fastify } = await import('fastify');
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max: POOL,
    idleTimeoutMillis: 0, // kept open, as Cairn keeps its connections
  });
  const app = Fastify({ logger: false, genReqId: () => uuid7() });

  // ---- answers

  const problem = (reply, status, type, title, detail, extra) =>
    reply
      .code(status)
      .type('application/problem+json')
      .send({
        type: `urn:cairn:problem:${type}`,
        title,
        status,
        detail,
        request_id: reply.request.id,
        ...extra,
      });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  app.setErrorHandler((err, req, reply) => {
    if (err.validation) {
      const errors = err.validation.map((v) => ({
        field: (v.instancePath.replace(/^\//, '') || v.params?.additionalProperty) ??
          v.params?.missingProperty ?? '',
        message: v.message,
      }));
      return problem(reply, 422, 'validation-failed', 'Unprocessable Content',
        'the request body has invalid fields', { errors });
    }
    if (err.statusCode === 415)
      return problem(reply, 415, 'unsupported-media-type', 'Unsupported Media Type', err.message);
    if (err.statusCode >= 400 && err.statusCode < 500)
      return problem(reply, err.statusCode, 'bad-request', 'Bad Request', err.message);
    // a lost database connection: nothing was applied, worth a retry (as Cairn's 503)
    reply.header('retry-after', '1');
    return problem(reply, 503, 'unavailable', 'Service Unavailable', 'try again');
  });

  app.setNotFoundHandler((req, reply) =>
    problem(reply, 404, 'not-found', 'Not Found', 'no resource at this path'));

  // ---- authentication: an API key, checked against its row on every request

  const KEY_RE = /^cairn_([a-z0-9]{8})_([A-Za-z0-9_-]+)$/;
  const LAST_USED_EVERY_MS = 60000;

  async function authenticate(req, reply, permission) {
    let token = req.headers['x-api-key'];
    const auth = req.headers.authorization;
    if (!token && auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ')
      token = auth.slice(7);
    const m = token ? KEY_RE.exec(token) : null;
    if (!m) {
      problem(reply, 401, 'token-invalid', 'Unauthorized', 'the bearer token is not valid');
      return null;
    }
    const hash = crypto.createHash('sha256').update(m[2]).digest('hex');
    const { rows } = await pool.query({
      name: 'key',
      text: 'SELECT id, tenant_id, secret_hash, scopes, expires_at, revoked_at, last_used_at' +
        ' FROM api_keys WHERE prefix = $1',
      values: [m[1]],
    });
    const k = rows[0];
    const now = Date.now();
    const ok = k !== undefined && k.secret_hash.length === 64 &&
      crypto.timingSafeEqual(Buffer.from(k.secret_hash), Buffer.from(hash)) &&
      k.revoked_at === null && (k.expires_at === null || Number(k.expires_at) > now);
    if (!ok) {
      problem(reply, 401, 'token-invalid', 'Unauthorized',
        'the API key is not valid, expired or revoked');
      return null;
    }
    if (!k.scopes.split(',').includes(permission)) {
      problem(reply, 403, 'forbidden', 'Forbidden', 'the key does not grant ' + permission);
      return null;
    }
    if (now - Number(k.last_used_at ?? 0) >= LAST_USED_EVERY_MS) {
      // best effort, as Cairn: a failure must not refuse the request
      pool.query({ name: 'touch', text: 'UPDATE api_keys SET last_used_at = $2 WHERE id = $1',
        values: [k.id, now] }).catch(() => {});
    }
    return { tenant: k.tenant_id, subject: `key:${k.id}` };
  }

  // ---- the routes

  const NOTE_COLUMNS = 'id, title, body, created_at, updated_at, words, analyses';
  const noteJson = (n) => JSON.stringify({
    id: n.id, title: n.title, body: n.body, created_at: Number(n.created_at),
    updated_at: Number(n.updated_at), words: Number(n.words), analyses: Number(n.analyses),
  });

  const createSchema = {
    type: 'object',
    required: ['title'],
    additionalProperties: false,
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 200,
        pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028-\\u202E\\u2066-\\u2069]*$' },
      body: { type: 'string', maxLength: 100000 },
    },
  };

  app.post('/api/v1/notes', { schema: { body: createSchema } }, async (req, reply) => {
    const who = await authenticate(req, reply, 'notes.write');
    if (!who) return reply;
    const now = Date.now();
    const note = { id: uuid7(), title: req.body.title, body: req.body.body ?? '',
      created_at: now, updated_at: now, words: 0, analyses: 0 };
    const data = noteJson(note);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query({ name: 'note', values: [note.id, who.tenant, note.title, note.body, now],
        text: 'INSERT INTO notes (id, tenant_id, title, body, created_at, updated_at)' +
          ' VALUES ($1, $2, $3, $4, $5, $5)' });
      await client.query({ name: 'audit', values: auditRow(req, who, note.id, now),
        text: 'INSERT INTO audit_log (tenant_id, actor, action, object, ip, request_id,' +
          ' status, at, salt, personal, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,' +
          ' $10, $11)' });
      if (EVENT_SEQ === 'sequence') {
        await client.query({ name: 'event', values: [who.tenant, 'notes', 'note.created', data, now],
          text: "INSERT INTO realtime_events (tenant_id, channel, seq, type, data, at)" +
            " VALUES ($1, $2, nextval('realtime_events_seq'), $3, $4, $5)" });
      } else {
        // last: the channel's row stays locked until COMMIT, so take it as late as possible
        const { rows } = await client.query({ name: 'seq',
          values: [who.tenant, 'notes', 1, crypto.randomBytes(8).toString('hex')],
          text: 'INSERT INTO realtime_channels (tenant_id, channel, seq, epoch)' +
            ' VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, channel)' +
            ' DO UPDATE SET seq = realtime_channels.seq + excluded.seq RETURNING seq, epoch' });
        await client.query({ name: 'event',
          values: [who.tenant, 'notes', rows[0].seq, 'note.created', data, now],
          text: 'INSERT INTO realtime_events (tenant_id, channel, seq, type, data, at)' +
            ' VALUES ($1, $2, $3, $4, $5, $6)' });
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    return reply.code(201).header('location', `/api/v1/notes/${note.id}`)
      .type('application/json').send(data);
  });

  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  app.get('/api/v1/notes/:id', async (req, reply) => {
    if (!UUID_RE.test(req.params.id))
      return problem(reply, 404, 'not-found', 'Not Found', 'no resource at this path');
    const who = await authenticate(req, reply, 'notes.read');
    if (!who) return reply;
    const { rows } = await pool.query({ name: 'get', values: [who.tenant, req.params.id],
      text: `SELECT ${NOTE_COLUMNS} FROM notes WHERE tenant_id = $1 AND id = $2` });
    if (rows.length === 0)
      return problem(reply, 404, 'not-found', 'Not Found', 'no note with this id');
    return reply.type('application/json').send(noteJson(rows[0]));
  });

  // ---- the audit row: Cairn's columns, computed alike (without the chain)

  function auditRow(req, who, object, at) {
    const action = 'POST /api/v1/notes';
    const salt = crypto.randomBytes(16).toString('hex');
    const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    const personal = fieldsHash([salt, who.subject, object, ip]);
    const hash = fieldsHash([who.tenant, personal, action, req.id, '201', String(at)]);
    return [who.tenant, who.subject, action, object, ip, req.id, 201, at, salt, personal, hash];
  }

  function fieldsHash(fields) {
    const h = crypto.createHash('sha256');
    for (const f of fields) {
      const b = Buffer.from(f);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      h.update(len).update(b);
    }
    return h.digest('hex');
  }

  const stop = async () => {
    await app.close();
    await pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await app.listen({ port: PORT, host: HOST });
  if (WORKERS <= 1) console.log(`listening on http://${HOST}:${PORT}`);
}

// RFC 9562 UUIDv7 (Cairn's ids): 48 bits of Unix ms, version, 74 random bits
function uuid7() {
  const b = crypto.randomBytes(16);
  const ms = Date.now();
  b.writeUIntBE(ms, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
