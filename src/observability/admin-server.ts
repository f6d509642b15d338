// The admin listener shared by every mode: /metrics (prom-client), /livez, /readyz.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenOn, parseHostPort } from '../net/listen.js';
import { decideAdminAccess, isLoopbackHost } from './admin-access.js';

export interface AdminOptions {
  listen: string;
  registry: Registry;
  /** Why the process is not ready, or undefined when it is. */
  notReadyReason: () => string | undefined | Promise<string | undefined>;
  /** Extra read-only routes (e.g. a status page), keyed by path. */
  extraRoutes?: Record<string, () => unknown>;
  /** Operator actions, POST only (e.g. the proxy's manual failback), keyed by path; answer JSON. */
  actions?: Record<string, () => unknown>;
  /** Bearer token for the actions (admin.tokenFile); without one they are refused. */
  token?: string;
}

export async function startAdminServer(options: AdminOptions): Promise<Server> {
  const policy = { token: options.token, loopbackOnly: isLoopbackHost(parseHostPort(options.listen).host) };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const mutating = options.actions?.[path] !== undefined && req.method === 'POST';
    const verdict = decideAdminAccess({ mutating, host: req.headers.host, authorization: req.headers.authorization }, policy);
    if (!verdict.allowed) {
      res.writeHead(verdict.status, { 'content-type': 'text/plain', ...(verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
      res.end(`${verdict.message}\n`);
      return;
    }
    void (async () => {
      if (path === '/metrics') {
        const body = await options.registry.metrics();
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(body);
      } else if (path === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else if (path === '/readyz') {
        const reason = await options.notReadyReason();
        res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
      } else if (options.actions?.[path]) {
        if (req.method !== 'POST') {
          res.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' });
          res.end('use POST\n');
          return;
        }
        const body = JSON.stringify(await options.actions[path]());
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else if (options.extraRoutes?.[path]) {
        const body = JSON.stringify(options.extraRoutes[path]());
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${String(err)}\n`);
    });
  });
  await listenOn(server, options.listen, 'adminListen');
  return server;
}
