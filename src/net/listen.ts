// HOST:PORT parsing and a promise-returning listen shared by every server we start.
import type { Server } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(value: string): HostPort {
  const idx = value.lastIndexOf(':');
  let host = value.slice(0, idx);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(value.slice(idx + 1)) };
}

export function listenOn(server: Server, hostPort: string): Promise<HostPort> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ host, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
