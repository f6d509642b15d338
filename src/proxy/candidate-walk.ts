// Carries out one routing decision: an attempt on the decision's first candidate, then on the
// next after a retryable failure (at most `retries` times, FALLTHROUGH not counted), until one
// answers or the failure ends the request; then the outcome goes to the caller (the access log
// and frontend metrics). It picks no backend itself (route-decision.ts) and touches no upstream
// connection (forwarder.ts).
//
// The walk is driven by the forwarder's callbacks, not by promises: an async attempt and an
// async loop cost two promises, two async frames and four microtask hops per request, about
// 1 KiB of garbage and 1-2 us of the ~80 us of CPU a small proxied GET takes (Node 20).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendOciError } from '../errors/oci-codes.js';
import type { Logger } from '../observability/logger.js';
import type { Backend } from './backend.js';
import { forward, type AttemptListener, type BodyOutcome } from './forwarder.js';
import { clientOrigin, isDeletedAnswer, rewriteLocation, stripReplicaResponseHeaders } from './headers.js';
import { codeClass, type ProxyMetrics } from './proxy-metrics.js';
import type { ResponseFields } from './response-fields.js';
import type { RequestFacts, RouteDecision, Router } from './route-decision.js';
import { backendServesBlob, sendRedirect } from './routing/blob-redirect.js';
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

export interface WalkDeps {
  metrics: ProxyMetrics;
  logger: Logger;
  /** Requests in flight per backend name; the walk keeps it current. */
  inflight: Map<string, number>;
  /** Passive health: how a request to a backend went (by name: the list may have changed since the request began). */
  reportTraffic: (backend: Backend, ok: boolean, detail: string) => void;
  /** The proxy's own address, for Location rewrites when a client sent no Host. */
  publicHost: () => string;
}

/** How a request ended, for the access log and the metrics. */
export interface Outcome {
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
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly facts: RequestFacts;
  readonly decision: RouteDecision;
  readonly plane: TrafficPlane;
}

/**
 * Carries out `x.decision`; `done` gets the outcome once the response has ended (never when the
 * proxy itself failed: that is logged and answered 500 here).
 */
export function walkCandidates(deps: WalkDeps, x: Exchange, done: (outcome: Outcome) => void): void {
  new Walk(deps, x, done).run();
}

/**
 * The client's answer to a defect of the proxy's own: 500 (`FAILURES.PROXY_FAULT`), or, once the
 * response has started, its connection cut (sendOciError does that).
 */
export function answerProxyFault(res: ServerResponse): void {
  const { status, message } = FAILURES.PROXY_FAULT;
  sendOciError(res, 'UNAVAILABLE', message, { status });
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
  const own = failure.code === 'LOCAL_RESOURCE' || failure.code === 'PROXY_FAULT';
  // failWith speaks of the backend (e.g. an upload owner that died): not for a failure of our own.
  if (decision.failWith && !own) {
    const { code, message: why } = decision.failWith;
    sendOciError(res, code, `${why} (${backend.label}: ${message})`, { headers });
    return { status: res.statusCode, backend, retries, failure, reason };
  }
  sendOciError(res, 'UNAVAILABLE', own ? message : `${message} (${backend.label})`, { status, headers });
  return { status, backend, retries, failure, reason };
}

/**
 * The attempts of one request, one at a time; it listens to the current one (an attempt calls
 * failed or committed once, then finished once if committed, and nothing after that).
 */
class Walk implements AttemptListener {
  private index = 0;
  private retries = 0;
  private status = 0;

  constructor(
    private readonly deps: WalkDeps,
    private readonly x: Exchange,
    private readonly done: (outcome: Outcome) => void,
  ) {}

  /** The decision's own answer when it names no backend; else its blob redirect or the first attempt. */
  run(): void {
    this.guard(() => {
      const { x } = this;
      const refused = answerWithoutBackend(x.res, x.decision);
      if (refused) {
        this.done(refused);
        return;
      }
      const { redirect, candidates } = x.decision;
      if (!redirect) {
        this.attempt();
        return;
      }
      const first = candidates[0];
      backendServesBlob(first, x.plane.upstreams.get(first.name)!, x.req).then(
        (serves) =>
          this.guard(() => {
            if (!serves) {
              this.attempt();
              return;
            }
            sendRedirect(x.res, redirect);
            this.done({ status: 307, backend: first, retries: 0, reason: 'blob-redirect' });
          }),
        (err: unknown) => this.internalError(err),
      );
    });
  }

  private get backend(): Backend {
    return this.x.decision.candidates[this.index];
  }

  private get last(): boolean {
    return this.index === this.x.decision.candidates.length - 1;
  }

  /** The in-flight count covers an attempt until its body has ended or it failed. */
  private attempt(): void {
    const { deps, x, backend, last } = this;
    const options = { hasBody: x.facts.hasBody, editHeaders: headerEditor(deps, x, backend), discard: discardRule(x, backend, last) };
    forward(x.req, x.res, backend, x.plane.upstreams.get(backend.name)!, options, this);
    // Counted once dispatched (an attempt reports nothing before this returns).
    deps.inflight.set(backend.name, (deps.inflight.get(backend.name) ?? 0) + 1);
  }

  private attemptEnded(): void {
    const { inflight } = this.deps;
    const name = this.backend.name;
    inflight.set(name, (inflight.get(name) ?? 1) - 1);
  }

  committed(status: number): void {
    this.guard(() => {
      this.status = status;
      const { deps, backend } = this;
      deps.metrics.backend(backend.name).responses[codeClass(status)].inc();
      if (isServerError(status)) deps.reportTraffic(backend, false, `status ${status}`);
      else deps.reportTraffic(backend, true, '');
    });
  }

  finished(body: BodyOutcome): void {
    this.guard(() => {
      this.attemptEnded();
      const { deps, backend } = this;
      if (body === 'upstream-failed') deps.reportTraffic(backend, false, 'response body broke off');
      this.done({ status: this.status, backend, retries: this.retries, body, reason: this.x.decision.reason });
    });
  }

  failed(failure: UpstreamFailure): void {
    this.guard(() => {
      this.attemptEnded();
      const { deps, x, backend, last } = this;
      const m = deps.metrics.backend(backend.name);
      m.failures[failure.code].inc();
      if (FAILURES[failure.code].passive) deps.reportTraffic(backend, false, `${failure.code} ${failure.detail}`);
      if (failure.code === 'PROXY_FAULT') deps.logger.error({ url: x.facts.url, backend: backend.name, detail: failure.detail }, 'request failed inside the proxy');
      if (failure.code === 'CLIENT_ABORTED') {
        x.res.destroy();
        this.done({ status: 499, backend, retries: this.retries, failure, reason: x.decision.reason });
        return;
      }
      const retryable = !last && isRetryable(failure, x.facts.method, x.facts.hasBody);
      if (!retryable || (failure.code !== 'FALLTHROUGH' && this.retries >= x.decision.retries)) {
        this.done(answerFailure(x, backend, failure, this.retries, last));
        return;
      }
      if (failure.code !== 'FALLTHROUGH') {
        this.retries++;
        m.retries.inc();
      }
      this.index++;
      this.attempt();
    });
  }

  /** A defect of the proxy's own (a throw in a hook or in the bookkeeping): logged, and the client told. */
  private internalError(err: unknown): void {
    const { x } = this;
    this.deps.logger.error({ err, url: x.facts.url }, 'request failed inside the proxy');
    answerProxyFault(x.res);
  }

  // The callbacks run inside undici's and the response's event handlers, and run() inside the
  // server's: a throw must end this request, not reach them (undici would take it for the
  // backend's failure, the server's would take the process down).
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.internalError(err);
    }
  }
}

/**
 * Which answers of `backend` are dropped for the next candidate: a 404 while read fallback is on
 * and candidates remain, and what the decision's `checkResponse` refuses. The last candidate's
 * 404 goes to the client, but `check` still vets its answer. A 404 for something the replica
 * deleted goes to the client at once: falling back would read the content from a replica that
 * has not heard of the delete yet.
 */
function discardRule(x: Exchange, backend: Backend, last: boolean): ((status: number, headers: ResponseFields) => boolean) | undefined {
  const readOnly = x.facts.method === 'GET' || x.facts.method === 'HEAD';
  const check = readOnly ? x.decision.checkResponse : undefined;
  const notFoundFallback = readOnly && x.decision.fallbackOn404 === true;
  if (!check && (last || !notFoundFallback)) return undefined;
  return (status, headers) =>
    !isDeletedAnswer(status, headers) && ((!last && notFoundFallback && status === 404) || check?.(status, headers, backend, last) === 'next');
}

/** Response-header edits for an answer from `backend`: Location rewrite, routing hooks, replica headers. */
function headerEditor(deps: WalkDeps, x: Exchange, backend: Backend) {
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
