// HOST:PORT parsing and a promise-returning listen shared by every server we start.
import type { Server } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * A listener could not bind (port taken, no permission, address not on this host). The process
 * cannot do its job half-started, so start-up ends with status 1 and this message.
 */
export class ListenError extends Error {
  readonly code = 'HA_LISTEN';
}

/** Why bind failed, in words, for the errno codes an operator meets. */
const BIND_REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
};

export function parseHostPort(value: string): HostPort {
  const idx = value.lastIndexOf(':');
  let host = value.slice(0, idx);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(value.slice(idx + 1)) };
}

/** Binds `server`; `key` names the config key in the error (`listen`, `adminListen`). */
export function listenOn(server: Server, hostPort: string, key: string): Promise<HostPort> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException): void => {
      const known = BIND_REASONS[err.code ?? ''];
      const reason = known ? `${known} (${err.code})` : err.message;
      reject(new ListenError(`cannot listen on ${key} ${hostPort}: ${reason}`));
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      const addr = server.address();
      resolve({ host, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
