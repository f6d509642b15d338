// Executes routing decisions: one client request -> attempts on the decision's candidates, in
// order, until one answers or the failure is not retryable; then the access log line, metrics
// and passive health reports. It picks no backend itself (route-decision.ts) and touches no
// upstream connection (forwarder.ts).
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { sendOciError } from '../errors/oci-codes.js';
import { byteCounter, type ByteCounts } from '../net/http2-compat.js';
import type { HealthStore } from '../health/health-store.js';
import { MAX_REQUEST_HEADERS, tooManyHeaders } from '../net/server-limits.js';
import type { Logger } from '../observability/logger.js';
import type { Backend } from './backend.js';
import { forward, type AttemptResult, type BodyOutcome } from './forwarder.js';
import { clientOrigin, hasRequestBody, isDeletedAnswer, prepareRequestHeaders, rewriteLocation, stripReplicaResponseHeaders } from './headers.js';
import { codeClass, type ProxyMetrics } from './proxy-metrics.js';
import { checkRequestTarget } from './request-target.js';
import { backendServesBlob, sendRedirect } from './routing/blob-redirect.js';
import type { RequestFacts, RouteDecision, Router, RoutingContext } from './route-decision.js';
import { FAILURES, isRetryable, isServerError, type UpstreamFailure } from './upstream-failure.js';

export interface HandlerDeps {
  backends: readonly Backend[];
  router: Router;
  health: HealthStore;
  metrics: ProxyMetrics;
  logger: Logger;
  /** Requests in flight per backend index; the handler keeps it current. */
  inflight: number[];
  /** What the router decides on (health snapshot, in-flight counts, elected backend), per request. */
  routingContext: () => RoutingContext;
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

export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { backends, router, health, metrics, logger, inflight } = deps;
  const backendOrigins = new Set(backends.map((b) => b.origin.toLowerCase()));
  // Decided once: with the access log off, no log object is built per request.
  const recordDeps: RecordDeps = { metrics, logger, accessLog: logger.isLevelEnabled('info') };

  async function forwardAll(req: IncomingMessage, res: ServerResponse, facts: RequestFacts, decision: RouteDecision): Promise<Outcome> {
    const { candidates } = decision;
    if (decision.reject) {
      const { code, message } = decision.reject;
      sendOciError(res, code, message);
      return { status: res.statusCode, retries: 0, reason: decision.reason };
    }
    if (decision.redirect && (await backendServesBlob(candidates[0], req))) {
      sendRedirect(res, decision.redirect);
      return { status: 307, backend: candidates[0], retries: 0, reason: 'blob-redirect' };
    }
    if (candidates.length === 0) {
      sendOciError(res, 'UNAVAILABLE', 'no healthy backend', { status: 503 });
      return { status: 503, retries: 0, reason: decision.reason };
    }
    const readOnly = facts.method === 'GET' || facts.method === 'HEAD';
    const check = readOnly ? decision.checkResponse : undefined;
    const notFoundFallback = readOnly && decision.fallbackOn404 === true;
    let retries = 0;
    for (let i = 0; ; i++) {
      const backend = candidates[i];
      const last = i === candidates.length - 1;
      const editHeaders = (headers: OutgoingHttpHeaders, status: number): void => {
        const location = headers.location;
        if (typeof location === 'string') {
          // Only answers with a Location (uploads, redirects) pay for working out the client's origin.
          const rewritten = rewriteLocation(location, backendOrigins, clientOrigin(facts.headers, deps.publicHost()));
          if (rewritten !== undefined) headers.location = rewritten;
        }
        decision.editResponseHeaders?.(headers, status, backend);
        stripReplicaResponseHeaders(headers);
      };
      inflight[backend.index]++;
      let result: AttemptResult;
      try {
        // The last candidate's 404 goes to the client, but `check` still vets its answer. A 404
        // for something the replica deleted goes to the client at once: falling back would
        // read the content from a replica that has not heard of the delete yet.
        const discard = !check && (last || !notFoundFallback)
          ? undefined
          : (status: number, headers: IncomingHttpHeaders) =>
              !isDeletedAnswer(status, headers) && ((!last && notFoundFallback && status === 404) || check?.(status, headers, backend, last) === 'next');
        result = await forward(req, res, backend, { hasBody: facts.hasBody, editHeaders, discard });
      } catch (err) {
        inflight[backend.index]--;
        throw err;
      }
      const m = metrics.backends[backend.index];
      if (result.ok) {
        m.responses[codeClass(result.status)].inc();
        if (isServerError(result.status)) health.reportTraffic(backend.index, false, `status ${result.status}`);
        else health.reportTraffic(backend.index, true, '');
        const body = await result.finished;
        inflight[backend.index]--;
        if (body === 'upstream-failed') health.reportTraffic(backend.index, false, 'response body broke off');
        return { status: result.status, backend, retries, body, reason: decision.reason };
      }
      inflight[backend.index]--;
      const failure = result.failure;
      m.failures[failure.code].inc();
      if (FAILURES[failure.code].passive) health.reportTraffic(backend.index, false, `${failure.code} ${failure.detail}`);
      if (failure.code === 'CLIENT_ABORTED') {
        res.destroy();
        return { status: 499, backend, retries, failure, reason: decision.reason };
      }
      const retryable = !last && isRetryable(failure, facts.method, facts.hasBody);
      if (retryable && (failure.code === 'FALLTHROUGH' || retries < decision.retries)) {
        if (failure.code !== 'FALLTHROUGH') {
          retries++;
          m.retries.inc();
        }
        continue;
      }
      if (failure.code === 'FALLTHROUGH' && last) {
        // `check` refused the last answer (e.g. a blob under another digest): it is never passed on.
        sendOciError(res, 'UNAVAILABLE', `no backend gave an acceptable answer (the last, ${backend.label}, was refused)`, { status: 502 });
        return { status: 502, backend, retries, failure, reason: decision.reason };
      }
      // Client-facing text names the backend by its label and the cause by its table message;
      // socket codes and parser messages (failure.detail) go to the access log only.
      const { status, message } = FAILURES[failure.code];
      // A request body we stopped reading cannot leave the connection reusable.
      const headers = facts.hasBody && !req.readableEnded ? { connection: 'close' } : undefined;
      if (failure.code === 'REQUEST_INVALID') {
        sendOciError(res, 'UNSUPPORTED', message, { status, headers: { connection: 'close' } });
        return { status, retries, failure, reason: decision.reason };
      }
      // failWith speaks of the backend (e.g. an upload owner that died): not for a shortage of our own.
      if (decision.failWith && failure.code !== 'LOCAL_RESOURCE') {
        const { code, message: why } = decision.failWith;
        sendOciError(res, code, `${why} (${backend.label}: ${message})`, { headers });
        return { status: res.statusCode, backend, retries, failure, reason: decision.reason };
      }
      sendOciError(res, 'UNAVAILABLE', failure.code === 'LOCAL_RESOURCE' ? message : `${message} (${backend.label})`, { status, headers });
      return { status, backend, retries, failure, reason: decision.reason };
    }
  }

  return (req, res) => {
    const started = performance.now();
    const socket = req.socket;
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
    const forwardedUrl = req.url ?? '/';
    const q = forwardedUrl.indexOf('?');
    const hasBody = hasRequestBody(req.headers);
    // A TLS listener's socket (for HTTP/2, its session's): the client used https.
    prepareRequestHeaders(req.headers, socket.remoteAddress, (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http');
    const facts: RequestFacts = {
      method,
      url: forwardedUrl,
      path: q < 0 ? forwardedUrl : forwardedUrl.slice(0, q),
      query: q < 0 ? '' : forwardedUrl.slice(q + 1),
      headers: req.headers,
      hasBody,
    };
    let decision: RouteDecision;
    try {
      decision = router.route(facts, deps.routingContext());
      if (decision.forwardUrl !== undefined) req.url = decision.forwardUrl;
      if (decision.requestHeaders) {
        for (const [name, value] of Object.entries(decision.requestHeaders)) {
          if (value === undefined) delete req.headers[name];
          else req.headers[name] = value;
        }
      }
    } catch (err) {
      logger.error({ err, url }, 'routing failed');
      sendOciError(res, 'UNAVAILABLE', 'internal proxy error', { status: 500 });
      return;
    }
    forwardAll(req, res, facts, decision).then(
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
    const m = metrics.backends[outcome.backend.index];
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
