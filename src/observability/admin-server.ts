// The admin listener shared by every mode: /metrics (prom-client), /livez, /readyz, plus the
// read-only routes and operator actions a mode adds (the proxy: /status, the status page,
// /failback, /backends/<name>/state and /weight).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { listenOn, parseHostPort } from '../net/listen.js';
import { decideAdminAccess, isLoopbackHost } from './admin-access.js';

/** What an operator action gets of its request: the path, the query and the body (at most 64 KiB). */
export interface ActionInput {
  path: string;
  query: URLSearchParams;
  body: string;
}

/**
 * Thrown by an action for a request it refuses (bad input, unknown backend: the client's fault;
 * 422: a config file that does not validate). `details` go into the JSON answer next to `error`.
 */
export class ActionError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 422,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type AdminAction = (input: ActionInput) => unknown;

/** A read-only route's answer: JSON by default, or a page with its own content type. */
export type RouteAnswer = { contentType: string; body: string; headers?: Record<string, string> };

export interface AdminOptions {
  listen: string;
  registry: Registry;
  /** Why the process is not ready, or undefined when it is. */
  notReadyReason: () => string | undefined | Promise<string | undefined>;
  /** Extra read-only routes (GET and HEAD only), keyed by path: a value served as JSON, or a RouteAnswer. */
  extraRoutes?: Record<string, () => unknown>;
  /** Operator actions, POST only, found by path (e.g. `/backends/a/state`); they answer JSON. */
  action?: (path: string) => AdminAction | undefined;
  /** Bearer token for the actions (admin.tokenFile); without one they are refused. */
  token?: string;
}

const MAX_ACTION_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the cap the rest is read and dropped, so the client still gets its 413.
      if (size > MAX_ACTION_BODY) reject(new ActionError(413, `the body is over ${MAX_ACTION_BODY} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

async function runAction(req: IncomingMessage, res: ServerResponse, action: AdminAction, path: string, query: URLSearchParams): Promise<void> {
  if (req.method !== 'POST') return answer(res, 405, 'text/plain', 'use POST\n', { allow: 'POST' });
  try {
    const result = await action({ path, query, body: await readBody(req) });
    answer(res, 200, 'application/json', JSON.stringify(result));
  } catch (err) {
    if (!(err instanceof ActionError)) throw err;
    answer(res, err.status, 'application/json', JSON.stringify({ error: err.message, ...err.details }));
  }
}

async function serveRoute(req: IncomingMessage, res: ServerResponse, route: () => unknown): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'text/plain', 'use GET\n', { allow: 'GET, HEAD' });
  const value = await route();
  const page = value as Partial<RouteAnswer> | null;
  if (page && typeof page.contentType === 'string' && typeof page.body === 'string') return answer(res, 200, page.contentType, page.body, page.headers);
  answer(res, 200, 'application/json', JSON.stringify(value));
}

export async function startAdminServer(options: AdminOptions): Promise<Server> {
  const policy = { token: options.token, loopbackOnly: isLoopbackHost(parseHostPort(options.listen).host) };
  const server = createServer((req, res) => {
    // Not new URL(): it would read `//host/...` as a host and serve `/...` under it.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
    const action = options.action?.(path);
    const mutating = action !== undefined && req.method === 'POST';
    const verdict = decideAdminAccess({ mutating, host: req.headers.host, authorization: req.headers.authorization }, policy);
    if (!verdict.allowed) {
      answer(res, verdict.status, 'text/plain', `${verdict.message}\n`, verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      return;
    }
    void (async () => {
      if (path === '/metrics') {
        answer(res, 200, options.registry.contentType, await options.registry.metrics());
      } else if (path === '/livez') {
        answer(res, 200, 'text/plain', 'ok\n');
      } else if (path === '/readyz') {
        const reason = await options.notReadyReason();
        answer(res, reason === undefined ? 200 : 503, 'text/plain', reason === undefined ? 'ready\n' : `not ready: ${reason}\n`);
      } else if (action) {
        await runAction(req, res, action, path, query);
      } else if (options.extraRoutes?.[path]) {
        await serveRoute(req, res, options.extraRoutes[path]);
      } else {
        answer(res, 404, 'text/plain', 'not found\n');
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${String(err)}\n`);
    });
  });
  await listenOn(server, options.listen, 'adminListen');
  return server;
}
