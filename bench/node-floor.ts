// The floor of any Node.js proxy on this machine, measured beside ha-proxy in the same run: the
// same server and upstream client as ha-proxy (node:http in front, an undici Pool behind), the
// same worker count, and nothing else (no routing, health checks, retries, metrics or timers).
// Usage: node dist/bench/node-floor.js PORT WORKERS BACKEND_URL [SOCKET_PATH]
// (SOCKET_PATH: reach the backend over that Unix socket instead of TCP, to measure what it saves.)
// NODE_FLOOR_FORWARDED=1 adds the X-Forwarded-For/-Proto/-Host that ha-proxy, and HAProxy and
// nginx as configured in the bench, send: to measure what those headers cost any Node proxy.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [port, workers, backendUrl, socketPath] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const forwarded = process.env.NODE_FLOOR_FORWARDED === '1';

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const pool = new Pool(backendUrl, { connections: null, keepAliveTimeout: 4000, ...(socketPath ? { socketPath } : {}) });
  createServer((req, res) => {
    const headers = { ...req.headers } as Record<string, string | string[]>;
    delete headers.connection;
    if (forwarded) {
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
      headers['x-forwarded-proto'] = 'http';
      if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
    }
    const handler: Dispatcher.DispatchHandlers = {
      onConnect: () => {},
      onHeaders: (status, raw, resume) => {
        const out: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i].toString('latin1');
          const lower = name.toLowerCase();
          if (lower !== 'connection' && lower !== 'keep-alive' && lower !== 'transfer-encoding') out.push(name, raw[i + 1].toString('latin1'));
        }
        res.writeHead(status, out);
        res.on('drain', resume);
        return true;
      },
      onData: (chunk) => res.write(chunk),
      onComplete: () => res.end(),
      onError: () => res.destroy(),
    };
    pool.dispatch({ path: req.url ?? '/', method: 'GET', headers }, handler);
  }).listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
