// A TCP proxy for browser tests: chromium talks to the proxy, the proxy to the server, and
// a test cuts the connection (every open socket destroyed, new ones refused) and restores
// it on the same port, to play a network that drops and comes back.
import net from 'node:net';

/**
 * Starts a proxy on 127.0.0.1 (a free port) forwarding to `target` ({host, port}).
 * Resolves to {port, url, cut(), restore(), close(), connections()}.
 */
export async function startProxy(target, { scheme = 'http' } = {}) {
  const open = new Set();
  let accepted = 0;
  let up = true;
  const server = net.createServer((client) => {
    accepted++;
    if (!up) return client.destroy();
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    const pair = [client, upstream];
    open.add(pair);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    /** Destroys every connection and refuses (accepts, then resets) new ones until restore(). */
    cut() {
      up = false;
      for (const [c, u] of open) {
        c.destroy();
        u.destroy();
      }
      open.clear();
    },
    restore() {
      up = true;
    },
    /** Connections accepted so far (refused ones included). */
    connections: () => accepted,
    close() {
      up = false;
      for (const [c, u] of open) {
        c.destroy();
        u.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
