// One client request, from its arrival to its access log line: admission (what no backend could
// be sent faithfully is refused here), the facts routing decides on, the router's decision, its
// walk down the candidates (candidate-walk.ts), then the frontend metrics and the access log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { sendOciError } from '../errors/oci-codes.js';
import { byteCounter, type ByteCounts } from '../net/http2-compat.js';
import { MAX_REQUEST_HEADERS, tooManyHeaders } from '../net/server-limits.js';
import type { Logger } from '../observability/logger.js';
import { answerProxyFault, walkCandidates, type Outcome, type TrafficPlane, type WalkDeps } from './candidate-walk.js';
import { hasRequestBody, prepareRequestHeaders } from './headers.js';
import { codeClass, type ProxyMetrics } from './proxy-metrics.js';
import { checkRequestTarget } from './request-target.js';
import type { RequestFacts, RouteDecision, RoutingContext } from './route-decision.js';

export interface HandlerDeps extends WalkDeps {
  /** What the router decides on (health snapshot, in-flight counts, elected backend), per request. */
  routingContext: (plane: TrafficPlane) => RoutingContext;
  isDraining: () => boolean;
}

interface RecordDeps {
  metrics: ProxyMetrics;
  logger: Logger;
  accessLog: boolean;
}

/** Applies the decision's rewrites to what is forwarded: the target and request headers. */
function applyDecision(req: IncomingMessage, decision: RouteDecision): void {
  if (decision.forwardUrl !== undefined) req.url = decision.forwardUrl;
  if (!decision.requestHeaders) return;
  for (const [name, value] of Object.entries(decision.requestHeaders)) {
    if (value === undefined) delete req.headers[name];
    else req.headers[name] = value;
  }
}

/** What routing decides on, from the request as it arrived (its headers prepared for forwarding). */
function requestFacts(req: IncomingMessage, method: string): RequestFacts {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const hasBody = hasRequestBody(req.headers);
  // A TLS listener's socket (for HTTP/2, its session's): the client used https.
  prepareRequestHeaders(req.headers, req.socket.remoteAddress, (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http');
  return { method, url, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: req.headers, hasBody };
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, plane: TrafficPlane) => void;

export function createRequestHandler(deps: HandlerDeps): RequestHandler {
  const { metrics, logger } = deps;
  // Decided once: with the access log off, no log object is built per request.
  const recordDeps: RecordDeps = { metrics, logger, accessLog: logger.isLevelEnabled('info') };
  return (req, res, plane) => {
    const started = performance.now();
    const bytes = byteCounter(req);
    metrics.requests.inc();
    if (deps.isDraining()) res.setHeader('connection', 'close');
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const refused = admit(req);
    if (refused) {
      // The framing of what follows (a body, the next request) cannot be trusted: close.
      sendOciError(res, 'UNSUPPORTED', refused.message, { status: refused.status, headers: { connection: 'close' } });
      record(recordDeps, method, url, started, bytes, { status: refused.status, retries: 0, refused: refused.message });
      return;
    }
    const facts = requestFacts(req, method);
    let decision: RouteDecision;
    try {
      decision = plane.router.route(facts, deps.routingContext(plane));
      applyDecision(req, decision);
    } catch (err) {
      logger.error({ err, url }, 'routing failed');
      answerProxyFault(res);
      return;
    }
    walkCandidates(deps, { req, res, facts, decision, plane }, (outcome) => record(recordDeps, method, url, started, bytes, outcome));
  };
}

/** The access log line and the frontend metrics, for every request however it ended. */
function record(deps: RecordDeps, method: string, url: string, started: number, bytes: () => ByteCounts, outcome: Outcome): void {
  const { metrics, logger } = deps;
  const seconds = (performance.now() - started) / 1000;
  const cls = codeClass(outcome.status);
  metrics.responses[cls].inc();
  metrics.duration[cls].observe(seconds);
  const { read: bytesIn, written: bytesOut } = bytes();
  if (outcome.backend) {
    const m = metrics.backend(outcome.backend.name);
    m.bytesIn.inc(bytesIn);
    m.bytesOut.inc(bytesOut);
  }
  if (!deps.accessLog) return;
  logger.info({
    method,
    url,
    status: outcome.status,
    backend: outcome.backend?.name,
    bytesIn,
    bytesOut,
    durationMs: Math.round(seconds * 1e4) / 10,
    retries: outcome.retries,
    ...(outcome.body !== undefined && outcome.body !== 'complete' ? { body: outcome.body } : {}),
    ...(outcome.failure ? { failure: outcome.failure.code, detail: outcome.failure.detail } : {}),
    ...(outcome.reason ? { route: outcome.reason } : {}),
    ...(outcome.refused ? { refused: outcome.refused } : {}),
  }, 'access');
}

/**
 * Refuses, before any routing, a request no backend could be sent faithfully; normalises an
 * absolute-form target to origin form (request-target.ts) in place.
 */
function admit(req: IncomingMessage): { status: number; message: string } | undefined {
  // Node dropped the header lines past its cap: Content-Length among them would turn the body
  // into a request of its own.
  if (tooManyHeaders(req)) return { status: 431, message: `more than ${MAX_REQUEST_HEADERS} header lines` };
  const target = checkRequestTarget(req.url ?? '/');
  if (!target.ok) return { status: 400, message: target.reason };
  if (target.host !== undefined) {
    req.url = target.url;
    req.headers.host = target.host;
  }
  return undefined;
}
