// The server clients connect to: plain HTTP/1.1, or with `tls:` HTTPS, where HTTP/2 is spoken
// to clients that offer it by ALPN (containerd does) and HTTP/1.1 to the others. Every kind
// offers the same handful of http.Server members the callers use, so they do not care which.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type ServerHttp2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import { ConfigError } from '../config/config-error.js';
import type { ListenerTlsConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { adaptHttp2Exchange } from './http2-compat.js';
import { listenerTlsOptions, loadListenerCertificates } from './listener-tls.js';

/**
 * HTTP/2 requests arrive as Http2ServerRequest/Response compat objects, adapted first
 * (http2-compat.ts) to behave as IncomingMessage/ServerResponse where the proxy relies on it.
 */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ClientServer extends NetServer {
  timeout: number;
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export interface ClientListener {
  readonly server: ClientServer;
  readonly tls: boolean;
  /**
   * Re-reads the certificate files (of `tls` when given: a reload may name other files): new
   * connections get the new certificates, open ones keep theirs. Throws a ConfigError (the old
   * certificates stay) when a file is missing or broken.
   */
  reloadCertificates(tls?: ListenerTlsConfig): void;
}

export interface ClientServerOptions {
  /** HTTP/2 by ALPN on a TLS listener (the proxy); the built-in registry speaks HTTP/1.1 only. */
  http2: boolean;
  requestTimeout: number;
  keepAliveTimeout?: number;
}

/** Node's own http.Server default, kept for the HTTP/1.1 connections of an HTTP/2 server. */
const NODE_KEEP_ALIVE_TIMEOUT_MS = 5000;

export function createClientServer(tls: ListenerTlsConfig | undefined, options: ClientServerOptions, onRequest: RequestListener): ClientListener {
  if (tls === undefined) {
    const server = createHttpServer({ requestTimeout: options.requestTimeout, keepAliveTimeout: options.keepAliveTimeout }, onRequest);
    return { server, tls: false, reloadCertificates: () => {} };
  }
  let certificates = loadListenerCertificates(tls);
  const tlsOptions = listenerTlsOptions(tls, () => certificates);
  const server: ClientServer = options.http2
    ? http2Server(tlsOptions, onRequest)
    : createHttpsServer(tlsOptions, onRequest);
  server.requestTimeout = options.requestTimeout;
  server.keepAliveTimeout = options.keepAliveTimeout ?? NODE_KEEP_ALIVE_TIMEOUT_MS;
  const reloadCertificates = (files: ListenerTlsConfig = tls): void => {
    const next = loadListenerCertificates(files);
    (server as unknown as { setSecureContext(o: object): void }).setSecureContext(next.fallback.options);
    certificates = next;
  };
  return { server, tls: true, reloadCertificates };
}

/**
 * node:http2's secure server with HTTP/1.1 fallback. It has no closeAllConnections, and its
 * closeIdleConnections reaches only the HTTP/1.1 connections: both are completed here, an HTTP/2
 * session being closed gracefully (GOAWAY: open streams finish, no new ones start).
 */
function http2Server(tlsOptions: object, onRequest: RequestListener): ClientServer {
  const server = createSecureServer({ ...tlsOptions, allowHTTP1: true }, (req, res) => {
    if (req.httpVersionMajor >= 2) adaptHttp2Exchange(req, res);
    onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  }) as unknown as ClientServer;
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const closeIdleHttp1 = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdleHttp1();
    for (const session of sessions) if (!session.closed) session.close();
  };
  server.closeAllConnections = () => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
  };
  return server;
}

/** SIGHUP's certificate reload, logged: a broken file is named and the certificates in use stay. */
export function reloadCertificatesLogged(listener: ClientListener, logger: Logger, tls?: ListenerTlsConfig): void {
  if (!listener.tls) return;
  try {
    listener.reloadCertificates(tls);
    logger.info('TLS certificates reloaded');
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [String(err)];
    logger.error({ problems }, `TLS certificate reload failed, the certificates in use stay: ${problems.join('; ')}`);
  }
  logger.flush();
}
