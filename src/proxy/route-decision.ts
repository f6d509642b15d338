// The routing seam: a request's facts and a health snapshot in, an ordered candidate list out.
//
//   facts (method, path, query, headers) + RoutingContext (backends, health, in-flight counts, now)
//     -> Router.route() -> RouteDecision { candidates: [target, ...retry targets], retries, flags }
//
// The candidate walk (candidate-walk.ts) only executes decisions: it tries `candidates[0]`,
// and moves down the list after a retryable failure (at most `retries` times), or after a 404
// when `fallbackOn404` is set. It never chooses a backend itself.
//
// Routers compose: the registry-aware routing (routing/create-routing.ts) wraps the mode router
// (mode-router.ts) and refines its decisions. From a decision a router can:
//   - pin a request to exactly one backend with no retry: `{ candidates: [b], retries: 0 }`;
//   - rewrite what is forwarded: `forwardUrl` (path + query, e.g. with a token stripped);
//   - rewrite response headers (Location, Set-Cookie): `editResponseHeaders`;
//   - fall back to the next candidate on a 404 for GET/HEAD: `fallbackOn404: true`, or decide
//     per response with `checkResponse` (e.g. a digest mismatch) -> 'next';
//   - edit the forwarded request headers: `requestHeaders` (e.g. strip a routing cookie);
//   - answer at once with an OCI error and contact no backend: `reject`;
//   - answer with a 307 to another URL instead of forwarding: `redirect`.
// `facts.path` is the raw path (not decoded), `facts.query` the raw query without `?`.
import type { IncomingHttpHeaders } from 'node:http';
import type { OciErrorCode } from '../errors/oci-codes.js';
import type { BackendHealth } from '../health/health-state.js';
import type { BackendAdmin } from '../health/admin-state.js';
import type { Backend } from './backend.js';
import type { ResponseFields } from './response-fields.js';

export interface RequestFacts {
  readonly method: string;
  /** The request target as the client sent it: path and query. */
  readonly url: string;
  readonly path: string;
  /** The query without the leading `?`; '' when there is none. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  /** Whether the request carries a body (Content-Length > 0 or Transfer-Encoding). */
  readonly hasBody: boolean;
}

export interface RoutingContext {
  readonly backends: readonly Backend[];
  /** By backend index. */
  readonly health: readonly BackendHealth[];
  /** Requests in flight per backend index (for leastconn). */
  readonly inflight: readonly number[];
  readonly now: number;
  /** active-standby with proxies sharing state: the active backend they elected, while fresh. Absent: decide locally. */
  readonly elected?: { readonly active: number };
  /** By backend index: the operator's admin state and runtime weight. Absent: all ready, configured weights. */
  readonly admin?: readonly BackendAdmin[];
}

/** The OCI errors a router answers with by itself (widen the list when a router needs more). */
export type RejectCode = Extract<OciErrorCode, 'BLOB_UPLOAD_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'UNAVAILABLE'>;

export interface RouteDecision {
  /** Ordered: the first is the target, the rest are retry / fallback targets. Empty: 503. */
  readonly candidates: readonly Backend[];
  /** At most this many further attempts after a retryable failure (0 = never retry). */
  readonly retries: number;
  /** GET/HEAD: a 404 from a candidate that is not the last is discarded and the next is tried. */
  readonly fallbackOn404?: boolean;
  /** Path and query to forward instead of the client's. */
  readonly forwardUrl?: string;
  /** Runs on the response headers after the standard Location rewrite, before they are sent. */
  readonly editResponseHeaders?: (headers: ResponseFields, status: number, backend: Backend) => void;
  /**
   * GET/HEAD: whether a response may go to the client; 'next' drains it and tries the next
   * candidate (not counted as a retry). Asked for the last candidate too: 'next' there means
   * no acceptable answer exists, and the client gets 502 UNAVAILABLE instead.
   */
  readonly checkResponse?: (status: number, headers: ResponseFields, backend: Backend, last: boolean) => 'accept' | 'next';
  /** Header name -> new value (undefined removes it) on the request sent to the backend. */
  readonly requestHeaders?: Readonly<Record<string, string | undefined>>;
  /** Answer with this OCI error at once (with the code's status), contacting no backend. */
  readonly reject?: { readonly code: RejectCode; readonly message: string };
  /**
   * Answer `307 Temporary Redirect` to `location` (a blob redirect to `candidates[0]`'s public
   * URL: routing/blob-redirect.ts) once `candidates[0]` confirmed, with the client's credentials,
   * that it serves the blob; otherwise the rest of the decision is carried out as usual.
   */
  readonly redirect?: { readonly location: string; /** Told when the 307 went out (metrics). */ readonly sent?: () => void };
  /**
   * When the last candidate fails without an answer (connect error, reset, timeout), answer with
   * this OCI error instead of the generic 502/503/504 UNAVAILABLE (e.g. an upload whose owner
   * just died: BLOB_UPLOAD_UNKNOWN tells the client to start the upload again).
   */
  readonly failWith?: { readonly code: RejectCode; readonly message: string };
  /** Why this route (e.g. "upload-affinity"); shown in the access log. */
  readonly reason?: string;
}

export interface Router {
  route(facts: RequestFacts, ctx: RoutingContext): RouteDecision;
}
