// The Socket.IO side of bench/realtime.sh: a Socket.IO 4.8 server on node that offers
// what Cairn's realtime hub offers to the load generator (bench/wsload.c), so that the
// same C client measures both servers.
//
//   PORT=0 TOKEN=bench-token node bench/socketio/server.mjs
//
// - WebSocket transport only (GET /socket.io/?EIO=4&transport=websocket); the upgrade
//   must carry `Authorization: Bearer <TOKEN>` (Cairn: the same header on its upgrade).
// - A client emits `subscribe` {channel} and is answered `subscribed` {channel, seq,
//   epoch}; the server joins it to a room named after the channel.
// - `POST /api/v1/notes` with the bearer token and {"title", "body"?} answers 201 with the
//   note, exactly like Cairn, and broadcasts to the `notes` room one `event` whose payload
//   has the shape of a Cairn event: {op, channel, seq, epoch, type, at, data: note}.
//   Publishing over HTTP keeps the publisher identical for both servers; the difference is
//   that Cairn commits each note to SQLite first and this server stores nothing.
// - `GET /stats`: clients, rss, heapUsed (JSON); `GET /healthz`: 200.
// Listens on 127.0.0.1 only and prints `listening on http://127.0.0.1:PORT` on stderr when
// ready, like `cairn serve`.
import http from 'node:http';
import { randomUUID, randomBytes } from 'node:crypto';
import { Server } from 'socket.io';

const PORT = Number(process.env.PORT ?? 0);
const TOKEN = process.env.TOKEN ?? 'bench-token';
const MAX_BODY = 1 << 20;

const epoch = randomBytes(8).toString('hex');
const seqs = new Map(); // channel -> last seq

function reply(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': status < 300 ? 'application/json' : 'application/problem+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function createNote(req, res) {
  if (req.headers.authorization !== `Bearer ${TOKEN}`)
    return reply(res, 401, { title: 'unauthorized', status: 401 });
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    let body;
    try {
      body = size <= MAX_BODY ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
    } catch {
      body = null;
    }
    if (body === null || typeof body !== 'object' || typeof body.title !== 'string' ||
        body.title.length < 1 || body.title.length > 200)
      return reply(res, 422, { title: 'invalid body', status: 422 });
    const now = Date.now();
    const note = {
      id: randomUUID(),
      title: body.title,
      body: typeof body.body === 'string' ? body.body : '',
      created_at: now,
      updated_at: now,
    };
    const seq = (seqs.get('notes') ?? 0) + 1;
    seqs.set('notes', seq);
    io.to('notes').emit('event', {
      op: 'event', channel: 'notes', seq, epoch, type: 'note.created', at: now, data: note,
    });
    res.setHeader('location', `/api/v1/notes/${note.id}`);
    reply(res, 201, note);
  });
}

const httpServer = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'POST' && path === '/api/v1/notes') return createNote(req, res);
  if (req.method === 'GET' && path === '/healthz') return reply(res, 200, { status: 'ok' });
  if (req.method === 'GET' && path === '/stats') {
    const m = process.memoryUsage();
    return reply(res, 200, { clients: io.engine.clientsCount, rss: m.rss, heapUsed: m.heapUsed });
  }
  reply(res, 404, { title: 'not found', status: 404 });
});
// the publisher keeps one connection open for the whole run
httpServer.keepAliveTimeout = 120_000;
httpServer.headersTimeout = 130_000;

const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  allowRequest: (req, cb) => cb(null, req.headers.authorization === `Bearer ${TOKEN}`),
});

io.on('connection', (socket) => {
  socket.on('subscribe', (msg) => {
    const channel = msg && typeof msg.channel === 'string' ? msg.channel : '';
    if (channel !== 'notes') {
      socket.emit('error_msg', { op: 'error', code: 'unknown_channel', channel });
      return;
    }
    socket.join(channel);
    socket.emit('subscribed', { op: 'subscribed', channel, seq: seqs.get(channel) ?? 0, epoch });
  });
  socket.on('unsubscribe', (msg) => {
    const channel = msg && typeof msg.channel === 'string' ? msg.channel : '';
    socket.leave(channel);
    socket.emit('unsubscribed', { op: 'unsubscribed', channel });
  });
});

httpServer.listen(PORT, '127.0.0.1', () => {
  process.stderr.write(`listening on http://127.0.0.1:${httpServer.address().port}\n`);
});

function stop() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
