// Executes routing decisions: one client request -> attempts on the decision's candidates, in
// order, until one answers or the failure is not retryable; then the access log line, metrics
// and passive health reports. It picks no backend itself (route-decision.ts) and touches no
// upstream connection (forwarder.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { sendOciError } from '../errors/oci-codes.js';
import { byteCounter, type ByteCounts } from '../net/http2-compat.js';
import { MAX_REQUEST_HEADERS, tooManyHeaders } from '../net/server-limits.js';
import type { Logger } from '../observability/logger.js';
import type { Backend } from './backend.js';
import { forward, type AttemptResult, type BodyOutcome } from './forwarder.js';
import { clientOrigin, hasRequestBody, isDeletedAnswer, prepareRequestHeaders, rewriteLocation, stripReplicaResponseHeaders } from './headers.js';
import { codeClass, type ProxyMetrics } from './proxy-metrics.js';
import { checkRequestTarget } from './request-target.js';
import { backendServesBlob, sendRedirect } from './routing/blob-redirect.js';
import type { RequestFacts, RouteDecision, Router, RoutingContext } from './route-decision.js';
import type { ResponseFields } from './response-fields.js';
import type { PoolLease } from './upstream-pools.js';
import { FAILURES, isRetryable, isServerError, type UpstreamFailure } from './upstream-failure.js';

/** What requests are routed over: one backend list, its router and its pools (data-plane.ts). */
export interface TrafficPlane {
  readonly backends: readonly Backend[];
  readonly router: Router;
  /** The forwarder's pools for these backends, by name. */
  readonly upstreams: PoolLease;
  /** The backends' origins, lower-cased, to recognise Location headers that point at one. */
  readonly backendOrigins: ReadonlySet<string>;
}

export interface HandlerDeps {
  metrics: ProxyMetrics;
  logger: Logger;
  /** Requests in flight per backend name; the handler keeps it current. */
  inflight: Map<string, number>;
  /** Passive health: how a request to a backend went (by name: the list may have changed since the request began). */
  reportTraffic: (backend: Backend, ok: boolean, detail: string) => void;
  /** What the router decides on (health snapshot, in-flight counts, elected backend), per request. */
  routingContext: (plane: TrafficPlane) => RoutingContext;
  /** The proxy's own address, for Location rewrites when a client sent no Host. */
  publicHost: () => string;
  isDraining: () => boolean;
}

interface RecordDeps {
  metrics: ProxyMetrics;
  logger: Logger;
  accessLog: boolean;
}

interface Outcome {
  status: number;
  backend?: Backend;
  retries: number;
  failure?: UpstreamFailure;
  body?: BodyOutcome;
  reason?: string;
  /** Why the proxy refused the request itself, contacting no backend. */
  refused?: string;
}

/** One request on its way through the candidates of its decision. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly facts: RequestFacts;
  readonly decision: RouteDecision;
  readonly plane: TrafficPlane;
}

/** The answer when the decision names no backend to try: its rejection, or 503. */
function answerWithoutBackend(res: ServerResponse, decision: RouteDecision): Outcome | undefined {
  if (decision.reject) {
    const { code, message } = decision.reject;
    sendOciError(res, code, message);
    return { status: res.statusCode, retries: 0, reason: decision.reason };
  }
  if (decision.candidates.length === 0) {
    sendOciError(res, 'UNAVAILABLE', 'no healthy backend', { status: 503 });
    return { status: 503, retries: 0, reason: decision.reason };
  }
  return undefined;
}

/**
 * The answer for a failure that ends the request (no retry left or allowed). Client-facing text
 * names the backend by its label and the cause by its table message; socket codes and parser
 * messages (failure.detail) go to the access log only.
 */
function answerFailure(x: Exchange, backend: Backend, failure: UpstreamFailure, retries: number, last: boolean): Outcome {
  const { res, facts, decision } = x;
  const reason = decision.reason;
  if (failure.code === 'FALLTHROUGH' && last) {
    // `check` refused the last answer (e.g. a blob under another digest): it is never passed on.
    sendOciError(res, 'UNAVAILABLE', `no backend gave an acceptable answer (the last, ${backend.label}, was refused)`, { status: 502 });
    return { status: 502, backend, retries, failure, reason };
  }
  const { status, message } = FAILURES[failure.code];
  // A request body we stopped reading cannot leave the connection reusable.
  const headers = facts.hasBody && !x.req.readableEnded ? { connection: 'close' } : undefined;
  if (failure.code === 'REQUEST_INVALID') {
    sendOciError(res, 'UNSUPPORTED', message, { status, headers: { connection: 'close' } });
    return { status, retries, failure, reason };
  }
  // failWith speaks of the backend (e.g. an upload owner that died): not for a shortage of our own.
  if (decision.failWith && failure.code !== 'LOCAL_RESOURCE') {
    const { code, message: why } = decision.failWith;
    sendOciError(res, code, `${why} (${backend.label}: ${message})`, { headers });
    return { status: res.statusCode, backend, retries, failure, reason };
  }
  sendOciError(res, 'UNAVAILABLE', failure.code === 'LOCAL_RESOURCE' ? message : `${message} (${backend.label})`, { status, headers });
  return { status, backend, retries, failure, reason };
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

/** Response-header edits for an answer from `backend`: Location rewrite, routing hooks, replica headers. */
function headerEditor(deps: HandlerDeps, x: Exchange, backend: Backend) {
  return (headers: ResponseFields, status: number): void => {
    const location = headers.get('location');
    if (location !== undefined) {
      // Only answers with a Location (uploads, redirects) pay for working out the client's origin.
      const rewritten = rewriteLocation(location, x.plane.backendOrigins, clientOrigin(x.facts.headers, deps.publicHost()));
      if (rewritten !== undefined) headers.set('location', rewritten);
    }
    x.decision.editResponseHeaders?.(headers, status, backend);
    stripReplicaResponseHeaders(headers);
  };
}

/** One attempt on `backend`; the in-flight count covers it until its body has ended. */
async function attempt(deps: HandlerDeps, x: Exchange, backend: Backend, last: boolean): Promise<{ result: AttemptResult; body?: BodyOutcome }> {
  const readOnly = x.facts.method === 'GET' || x.facts.method === 'HEAD';
  const check = readOnly ? x.decision.checkResponse : undefined;
  const notFoundFallback = readOnly && x.decision.fallbackOn404 === true;
  // The last candidate's 404 goes to the client, but `check` still vets its answer. A 404
  // for something the replica deleted goes to the client at once: falling back would
  // read the content from a replica that has not heard of the delete yet.
  const discard = !check && (last || !notFoundFallback)
    ? undefined
    : (status: number, headers: ResponseFields) =>
        !isDeletedAnswer(status, headers) && ((!last && notFoundFallback && status === 404) || check?.(status, headers, backend, last) === 'next');
  const { inflight } = deps;
  inflight.set(backend.name, (inflight.get(backend.name) ?? 0) + 1);
  try {
    const upstream = x.plane.upstreams.get(backend.name)!;
    const result = await forward(x.req, x.res, backend, upstream, { hasBody: x.facts.hasBody, editHeaders: headerEditor(deps, x, backend), discard });
    if (!result.ok) return { result };
    deps.metrics.backend(backend.name).responses[codeClass(result.status)].inc();
    if (isServerError(result.status)) deps.reportTraffic(backend, false, `status ${result.status}`);
    else deps.reportTraffic(backend, true, '');
    return { result, body: await result.finished };
  } finally {
    inflight.set(backend.name, (inflight.get(backend.name) ?? 1) - 1);
  }
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, plane: TrafficPlane) => void;

export function createRequestHandler(deps: HandlerDeps): RequestHandler {
  const { metrics, logger } = deps;
  // Decided once: with the access log off, no log object is built per request.
  const recordDeps: RecordDeps = { metrics, logger, accessLog: logger.isLevelEnabled('info') };
  async function forwardAll(x: Exchange): Promise<Outcome> {
    const { decision } = x;
    const refused = answerWithoutBackend(x.res, decision);
    if (refused) return refused;
    const { candidates } = decision;
    if (decision.redirect && (await backendServesBlob(candidates[0], x.plane.upstreams.get(candidates[0].name)!, x.req))) {
      sendRedirect(x.res, decision.redirect);
      return { status: 307, backend: candidates[0], retries: 0, reason: 'blob-redirect' };
    }
    let retries = 0;
    for (let i = 0; ; i++) {
      const backend = candidates[i];
      const last = i === candidates.length - 1;
      const { result, body } = await attempt(deps, x, backend, last);
      if (result.ok) {
        if (body === 'upstream-failed') deps.reportTraffic(backend, false, 'response body broke off');
        return { status: result.status, backend, retries, body, reason: decision.reason };
      }
      const failure = result.failure;
      const m = metrics.backend(backend.name);
      m.failures[failure.code].inc();
      if (FAILURES[failure.code].passive) deps.reportTraffic(backend, false, `${failure.code} ${failure.detail}`);
      if (failure.code === 'CLIENT_ABORTED') {
        x.res.destroy();
        return { status: 499, backend, retries, failure, reason: decision.reason };
      }
      const retryable = !last && isRetryable(failure, x.facts.method, x.facts.hasBody);
      if (!retryable || (failure.code !== 'FALLTHROUGH' && retries >= decision.retries)) return answerFailure(x, backend, failure, retries, last);
      if (failure.code !== 'FALLTHROUGH') {
        retries++;
        m.retries.inc();
      }
    }
  }

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
      sendOciError(res, 'UNAVAILABLE', 'internal proxy error', { status: 500 });
      return;
    }
    forwardAll({ req, res, facts, decision, plane }).then(
      (outcome) => record(recordDeps, method, url, started, bytes, outcome),
      (err: unknown) => {
        logger.error({ err, url }, 'request failed inside the proxy');
        if (!res.headersSent) sendOciError(res, 'UNAVAILABLE', 'internal proxy error', { status: 500 });
        else res.destroy();
      },
    );
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
