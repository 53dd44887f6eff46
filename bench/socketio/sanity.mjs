// Checks bench/socketio/server.mjs with the real socket.io-client before bench/realtime.sh
// measures it with bench/wsload.c: connect over the websocket transport with the bearer
// header, subscribe, publish one note over HTTP and receive it as an event.
//
//   node bench/socketio/sanity.mjs http://127.0.0.1:PORT [TOKEN]
// Exits 0 and prints "socket.io sanity: ok ..." on success, 1 otherwise (5 s at most).
import { io } from 'socket.io-client';

const base = process.argv[2];
const token = process.argv[3] ?? 'bench-token';
if (!base) {
  console.error('usage: node bench/socketio/sanity.mjs http://127.0.0.1:PORT [TOKEN]');
  process.exit(2);
}
const fail = (msg) => {
  console.error(`socket.io sanity: ${msg}`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 5000).unref();

const title = `sanity ${process.pid}`;
const socket = io(base, {
  transports: ['websocket'],
  extraHeaders: { authorization: `Bearer ${token}` },
  reconnection: false,
});
socket.on('connect_error', (e) => fail(`connect_error: ${e.message}`));
socket.on('connect', () => socket.emit('subscribe', { channel: 'notes' }));
socket.on('subscribed', async (msg) => {
  if (msg.channel !== 'notes') fail(`subscribed to ${JSON.stringify(msg)}`);
  const res = await fetch(`${base}/api/v1/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, body: 'b' }),
  });
  if (res.status !== 201) fail(`POST /api/v1/notes answered ${res.status}`);
});
socket.on('event', (ev) => {
  if (ev.op !== 'event' || ev.channel !== 'notes' || ev.data?.title !== title)
    fail(`unexpected event ${JSON.stringify(ev)}`);
  console.log(`socket.io sanity: ok (seq ${ev.seq}, type ${ev.type})`);
  socket.close();
  process.exit(0);
});
