// The registry's API listener with its limits: a header deadline, an idle timeout and a cap on
// connections. Without them (the old `requestTimeout: 0` also turned Node's header timeout off) a
// client trickling one header byte every few seconds held its connection forever, and a few
// hundred such clients exhausted the process's file descriptors.
import type { RequestListener, Server } from 'node:http';
import type { ListenerTlsConfig } from '../config/types.js';
import { createClientServer, type ClientListener } from '../net/client-server.js';
import { applyServerLimits } from '../net/server-limits.js';

export interface ListenerLimits {
  headersMs: number;
  /** 0: no idle timeout. */
  idleMs: number;
  maxConnections: number;
}

/** Node's default (5 s) is shorter than a proxy's pooled idle timeout: keep sockets longer. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Plain HTTP, or HTTPS (HTTP/1.1) with `tls:`. */
export function createApiServer(app: RequestListener, limits: ListenerLimits, tls?: ListenerTlsConfig): ClientListener {
  // No deadline for a whole request: a multi-gigabyte upload may take as long as it needs
  // while bytes keep moving (the idle timeout catches the ones that stop).
  const listener = createClientServer(tls, { http2: false, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, requestTimeout: 0 }, app);
  const server = listener.server as unknown as Server;
  // The header deadline, the connection cap and the header-line cap, as on the proxy's listener.
  applyServerLimits(server, { headersMs: limits.headersMs, maxConnections: limits.maxConnections });
  // With no 'timeout' listener, Node destroys a socket idle for this long.
  server.setTimeout(limits.idleMs);
  return listener;
}
