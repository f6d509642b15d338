// The registry-aware Router: wraps the mode router (active-standby / active-active) and bends
// its candidate list around what the OCI protocol needs.
//
//   upload token in the query  -> exactly the backend that opened the session, no retry, also
//                                 when drained (so a drain never breaks a push); that backend
//                                 down, in maint or not answering -> 404 BLOB_UPLOAD_UNKNOWN.
//                                 With uploadAffinity 'preferred' (replicas on shared storage)
//                                 the owner first, then the repository's order; with 'off' no
//                                 token is handed out and any found is dropped
//   repository request         -> the route pool of its first matching rule; in active-active
//                                 the repository's home by rendezvous hashing first, the rest in
//                                 rendezvous order (retries; 404 fallback and the digest guard
//                                 for manifest and blob reads)
//   /v2/, /v2/_catalog, others -> the mode router's choice
//   plain traffic + sticky     -> the backend named by a signed cookie (insert indirect nocache),
//                                 also when drained, not in maint
//
// Pure apart from the RoutingEvents sink (metrics): the decision depends only on the request
// facts, the health snapshot and the admin states, so every proxy process decides alike.
import { takesNewRequests, takesOwnRequests } from '../../health/admin-state.js';
import { DIGEST_HEADER } from '../../oci/protocol-headers.js';
import type { Backend } from '../backend.js';
import { isDeletedAnswer } from '../headers.js';
import type { ResponseFields } from '../response-fields.js';
import type { RejectCode, RequestFacts, RouteDecision, Router, RoutingContext } from '../route-decision.js';
import { classifyRequest, pathOf, repositoryOf, type RegistryRequest } from './classify-request.js';
import { setQueryParam, takeQueryParam } from './query-param.js';
import { rendezvousOrder } from './rendezvous.js';
import type { Keyring } from '../../oci/signing.js';
import type { RouteTable } from './route-rules.js';
import { privateCacheControl, signCookieValue, stickyCookieHeader, takeCookie, verifyCookieValue } from './sticky-cookie.js';
import { signUploadToken, UPLOAD_TOKEN_PARAM, verifyUploadToken } from './upload-token.js';

export type RouteKind =
  | 'upload_affinity'
  | 'repository'
  | 'repository_read'
  | 'any'
  | 'sticky'
  | 'rejected';

/** What routing reports for metrics and logs; implemented by routing-metrics.ts. */
export interface RoutingEvents {
  routed(kind: RouteKind): void;
  /** An upload's owner is down or no longer configured: the client must restart the upload. */
  affinityMiss(): void;
  tokenRejected(): void;
  /** A sticky cookie named a backend that cannot serve (down, unknown, or a bad signature). */
  cookieRedispatch(): void;
  /** A read answer was dropped in favour of the next backend. */
  readFallback(reason: 'not_found' | 'digest_mismatch'): void;
}

const NO_EVENTS: RoutingEvents = {
  routed: () => {},
  affinityMiss: () => {},
  tokenRejected: () => {},
  cookieRedispatch: () => {},
  readFallback: () => {},
};

export interface RegistryRouterOptions {
  mode: 'active-standby' | 'active-active';
  /** Further attempts after a retryable failure (config `retries`, as the mode router uses). */
  retries: number;
  routes: RouteTable;
  readFallback: boolean;
  uploadKeys: Keyring;
  /**
   * 'required' (default): an upload session lives on the replica that opened it. 'preferred':
   * replicas share their storage (one bucket or directory), so the owner is only the first
   * choice. 'off': no upload tokens; uploads are routed as any repository request.
   */
  uploadAffinity?: 'required' | 'preferred' | 'off';
  /** Cookie stickiness for plain traffic; undefined when `routing.sticky` is none. */
  sticky?: { cookieName: string; keys: Keyring };
  events?: RoutingEvents;
}

const UPLOAD_KINDS = new Set<RegistryRequest['kind']>(['upload-start', 'upload-session']);
const READ_METHODS = new Set(['GET', 'HEAD']);
// Statuses with which a registry hands out the Location of a session that is still open:
// 202 after POST and PATCH, 204 for GET of the upload status. 201 means committed.
const OPEN_SESSION_STATUSES = new Set([202, 204]);

/** The repository an upload Location belongs to ('' when its path names none), for signing. */
function repositoryOfLocation(location: string): string {
  let path = location;
  const scheme = location.indexOf('://');
  if (scheme !== -1) {
    const slash = location.indexOf('/', scheme + 3);
    path = slash === -1 ? '/' : location.slice(slash);
  }
  return repositoryOf(classifyRequest(pathOf(path))) ?? '';
}

/**
 * What active-active rendezvous hashing orders: every healthy backend that takes new requests
 * (a drained one keeps only its upload sessions and sticky clients). Not the mode router's
 * pick: its order would be thrown away, and asking would still advance its round-robin, so the
 * requests between repository requests (/v2/, plain traffic) would pile onto the backends those
 * skipped (alternating the two, every /v2/ went to one backend of two).
 */
function healthyBackends(ctx: RoutingContext, retries: number): { candidates: readonly Backend[]; retries: number } {
  return { candidates: ctx.backends.filter((_b, i) => ctx.health[i]?.up && takesNewRequests(ctx.admin?.[i])), retries };
}

/** The backend all the upload tokens of a URL name, or why they are refused. */
function tokenOwner(keys: Keyring, tokens: readonly string[], repository: string): { ok: true; backend: string } | { ok: false; reason: string } {
  let owner: string | undefined;
  for (const token of tokens) {
    const check = verifyUploadToken(keys, token, repository);
    if (!check.ok) return { ok: false, reason: check.reason };
    if (owner !== undefined && owner !== check.backend) return { ok: false, reason: 'conflicting upload tokens in the URL' };
    owner = check.backend;
  }
  return { ok: true, backend: owner! };
}

/** Why an upload's owner cannot take its session's next request, or undefined when it can. */
function ownerProblem(ctx: RoutingContext, backend: Backend): string | undefined {
  if (!ctx.health[backend.index]?.up) return 'is down';
  return takesOwnRequests(ctx.admin?.[backend.index]) ? undefined : 'is in maintenance';
}

/**
 * Upload affinity on shared storage: the owner, then (should it not answer at all) the
 * repository's other healthy backends of its pool, in the order the repository would move.
 */
function ownerFirst(ctx: RoutingContext, owner: Backend, repository: string, pool: ReadonlySet<string> | undefined): Backend[] {
  const others = healthyBackends(ctx, 0).candidates.filter((b) => b !== owner && (!pool || pool.has(b.name)));
  return [owner, ...rendezvousOrder(others, repository)];
}

/** What every routing job reads: the options, where its events go, the mode router it refines. */
interface Jobs {
  readonly options: RegistryRouterOptions;
  readonly events: RoutingEvents;
  readonly inner: Router;
  readonly affinity: 'required' | 'preferred' | 'off';
  /** Signs an open upload session's Location for the backend that answered (affinity). */
  readonly signLocation: (headers: ResponseFields, status: number, backend: Backend) => void;
}

function reject({ events }: Jobs, code: RejectCode, message: string): RouteDecision {
  events.routed('rejected');
  return { candidates: [], retries: 0, reject: { code, message }, reason: 'rejected' };
}

/** A request with upload tokens: the backend that opened the session (see uploadAffinity), or a rejection. */
function routeUploadToken(jobs: Jobs, facts: RequestFacts, ctx: RoutingContext, tokens: string[], forwardUrl: string, request: RegistryRequest): RouteDecision {
  const { options, events, affinity } = jobs;
  const repository = repositoryOf(request) ?? '';
  // Shared storage: any replica continues the session (a token of before the change included).
  const shared = (): RouteDecision => (repository === '' ? reject(jobs, 'BLOB_UPLOAD_INVALID', 'an upload token on a request for no repository') : routeRepository(jobs, facts, ctx, request, repository, forwardUrl));
  if (affinity === 'off') return shared();
  const owner = tokenOwner(options.uploadKeys, tokens, repository);
  if (!owner.ok) {
    events.tokenRejected();
    return reject(jobs, 'BLOB_UPLOAD_INVALID', owner.reason);
  }
  const backend = ctx.backends.find((b) => b.name === owner.backend);
  const unable = backend && ownerProblem(ctx, backend);
  if (affinity === 'preferred') {
    if (!backend || unable) return shared();
    events.routed('upload_affinity');
    const candidates = ownerFirst(ctx, backend, repository, options.routes(repository).backends);
    return { candidates, retries: options.retries, forwardUrl, editResponseHeaders: jobs.signLocation, reason: 'upload-affinity' };
  }
  if (!backend) {
    events.affinityMiss();
    return reject(jobs, 'BLOB_UPLOAD_UNKNOWN', 'the backend that holds this upload is no longer configured; restart the upload');
  }
  if (unable) {
    events.affinityMiss();
    return reject(jobs, 'BLOB_UPLOAD_UNKNOWN', `the backend that holds this upload (${backend.label}) ${unable}; restart the upload`);
  }
  events.routed('upload_affinity');
  return {
    candidates: [backend],
    retries: 0,
    forwardUrl,
    editResponseHeaders: jobs.signLocation,
    // The owner died before health checks noticed: same answer as when it is known to be down.
    failWith: { code: 'BLOB_UPLOAD_UNKNOWN', message: `the backend that holds this upload (${backend.label}) did not answer; restart the upload` },
    reason: 'upload-affinity',
  };
}

/**
 * 404 -> the next backend (read fallback: the content may only be late here), except a 404 for
 * something the replica deleted; a blob under another digest is never passed on.
 */
function readCheck({ options, events }: Jobs, digest: string | undefined) {
  return (status: number, headers: ResponseFields, _backend: Backend, last: boolean): 'accept' | 'next' => {
    if (status === 404 && options.readFallback && !last && !isDeletedAnswer(status, headers)) {
      events.readFallback('not_found');
      return 'next';
    }
    if (digest !== undefined && status >= 200 && status < 300) {
      const answered = headers.get(DIGEST_HEADER);
      if (answered !== undefined && answered !== digest) {
        events.readFallback('digest_mismatch');
        return 'next';
      }
    }
    return 'accept';
  };
}

/** A repository request: its route pool, homed by rendezvous hashing in active-active. */
function routeRepository(jobs: Jobs, facts: RequestFacts, ctx: RoutingContext, request: RegistryRequest, name: string, forwardUrl?: string): RouteDecision {
  const { options, events } = jobs;
  const base = options.mode === 'active-active' ? healthyBackends(ctx, options.retries) : jobs.inner.route(facts, ctx);
  const pool = options.routes(name);
  let candidates = pool.backends ? base.candidates.filter((b) => pool.backends!.has(b.name)) : [...base.candidates];
  if (candidates.length === 0) {
    const where = pool.rule === -1 ? '' : ` (routing.routes[${pool.rule}])`;
    return reject(jobs, 'UNAVAILABLE', `no healthy backend for repository ${name}${where}`);
  }
  // Active-standby keeps the mode router's priority order; active-active homes the repository.
  if (options.mode === 'active-active') candidates = rendezvousOrder(candidates, name);
  // Every request lists the whole order: a retry after a connect failure (only ever for a
  // request the backend never received, see upstream-failure.ts) goes to the next backend in
  // rendezvous order, which is exactly where the repository moves once its home is marked down.
  if (UPLOAD_KINDS.has(request.kind)) {
    events.routed('repository');
    return { candidates, retries: base.retries, forwardUrl, editResponseHeaders: jobs.signLocation, reason: 'repository-home' };
  }
  if (!READ_METHODS.has(facts.method)) {
    events.routed('repository');
    return { candidates, retries: base.retries, reason: 'repository-home' };
  }
  const readsContent = request.kind === 'blob' || request.kind === 'manifest';
  events.routed('repository_read');
  return {
    candidates,
    retries: base.retries,
    checkResponse: readsContent ? readCheck(jobs, request.digest) : undefined,
    reason: 'repository-home',
  };
}

/** Plain traffic with cookie stickiness: the backend the signed cookie names first, while it can serve. */
function routeSticky(jobs: Jobs, facts: RequestFacts, ctx: RoutingContext, sticky: { cookieName: string; keys: Keyring }): RouteDecision {
  const base = jobs.inner.route(facts, ctx);
  const taken = takeCookie(facts.headers.cookie, sticky.cookieName);
  // indirect: the backend never sees the cookie.
  const requestHeaders = taken.value === undefined ? undefined : { cookie: taken.header };
  let stuck: Backend | undefined;
  if (taken.value !== undefined) {
    const named = verifyCookieValue(sticky.keys, taken.value);
    stuck = named === undefined ? undefined : ctx.backends.find((b) => b.name === named && ctx.health[b.index]?.up && takesOwnRequests(ctx.admin?.[b.index]));
    if (!stuck) jobs.events.cookieRedispatch();
  }
  const candidates = stuck ? [stuck, ...base.candidates.filter((b) => b !== stuck)] : base.candidates;
  jobs.events.routed('sticky');
  return {
    ...base,
    candidates,
    requestHeaders,
    reason: stuck ? 'sticky-cookie' : base.reason,
    editResponseHeaders: (headers, status, backend) => {
      base.editResponseHeaders?.(headers, status, backend);
      if (backend === stuck) return;
      const cookie = stickyCookieHeader(sticky.cookieName, signCookieValue(sticky.keys, backend.name));
      headers.append('set-cookie', cookie);
      headers.set('cache-control', privateCacheControl(headers.get('cache-control')));
    },
  };
}

export function createRegistryRouter(inner: Router, options: RegistryRouterOptions): Router {
  const affinity = options.uploadAffinity ?? 'required';
  const signLocation = (headers: ResponseFields, status: number, backend: Backend): void => {
    if (affinity === 'off' || !OPEN_SESSION_STATUSES.has(status)) return;
    const location = headers.get('location');
    if (location === undefined) return;
    const token = signUploadToken(options.uploadKeys, backend.name, repositoryOfLocation(location));
    headers.set('location', setQueryParam(location, UPLOAD_TOKEN_PARAM, token));
  };
  const jobs: Jobs = { options, events: options.events ?? NO_EVENTS, inner, affinity, signLocation };
  return {
    route(facts: RequestFacts, ctx: RoutingContext): RouteDecision {
      const request = classifyRequest(facts.path);
      if (facts.query.includes(UPLOAD_TOKEN_PARAM)) {
        const taken = takeQueryParam(facts.url, UPLOAD_TOKEN_PARAM);
        if (taken.values.length > 0) return routeUploadToken(jobs, facts, ctx, taken.values, taken.url, request);
      }
      const name = repositoryOf(request);
      if (name !== undefined) return routeRepository(jobs, facts, ctx, request, name);
      if (request.kind === 'plain' && options.sticky && options.mode === 'active-active') return routeSticky(jobs, facts, ctx, options.sticky);
      jobs.events.routed('any');
      return inner.route(facts, ctx);
    },
  };
}
