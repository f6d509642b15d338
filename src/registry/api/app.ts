// The registry's HTTP request listener: routing, authentication, the one error boundary that
// writes OCI error envelopes, the access log line and request metrics. Handlers live in one file
// per resource and throw OciError for client-visible failures; storage's own faults
// (StorageError) become OciErrors here, at the boundary (storage-faults.ts).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { OciError, sendOciError } from '../../errors/oci-codes.js';
import type { Logger } from '../../observability/logger.js';
import { deferredCounter } from '../../observability/deferred-counter.js';
import { deferredHistogram } from '../../observability/deferred-histogram.js';
import { DURATION_BUCKETS } from '../../observability/metrics.js';
import type { HtpasswdAuth } from '../auth/htpasswd.js';
import { BASIC_CHALLENGE } from '../auth/htpasswd.js';
import type { ImageStore } from '../storage/image-store.js';
import { isRepositoryName } from '../../oci/grammar.js';
import { handleBase } from './base.js';
import { handleBlob } from './blobs.js';
import { handleCatalog } from './catalog.js';
import type { ApiContext, ApiRequest } from './context.js';
import { noopHooks, type RegistryHooks } from './hooks.js';
import { handleManifest } from './manifests.js';
import { handleReferrers } from './referrers.js';
import { handleReplicationState } from './replication-state.js';
import { parseApiPath, type ApiPath } from '../../oci/api-path.js';
import { API_VERSION, API_VERSION_HEADER } from '../../oci/protocol-headers.js';
import { clientError } from './storage-faults.js';
import { StorageError } from '../storage/storage-error.js';
import { handleTags } from './tags.js';
import { signedBlobAccess } from './signed-blob.js';
import type { Keyring } from '../../oci/signing.js';
import { handleUploadSession, handleUploadStart } from './uploads.js';
import { clientAddress } from './client-address.js';
import { discardThenClose } from './linger.js';
import { OpenSessions, type SessionLimits } from './upload-sessions.js';
import { RetryLaterError } from '../../errors/retry-later.js';
import { MAX_REQUEST_HEADERS, tooManyHeaders } from '../../net/server-limits.js';

export interface RegistryAppOptions {
  store: ImageStore;
  logger: Logger;
  metrics?: Registry;
  hooks?: RegistryHooks;
  deleteEnabled?: boolean;
  maxManifestBytes?: number;
  auth?: HtpasswdAuth;
  /** Caps on open upload sessions (defaults: the schema's). */
  sessionLimits?: SessionLimits;
  /** Answer blob GETs with a 307 to a URL of the storage valid this long (S3 presigned GET). */
  blobRedirectMs?: number;
  /** Keys that verify the proxy's signed blob URLs (routing.blobRedirect); undefined: not accepted. */
  signedBlobUrlKeys?: Keyring;
}

const DEFAULT_SESSION_LIMITS: SessionLimits = { maxOpenPerRepository: 1000, maxOpenPerClient: 200, maxAgeMs: 86_400_000 };

const EMPTY_QUERY = new URLSearchParams();
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE']);
/** Errors that mean the client went away: nothing to answer, nothing to log as a failure. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']);

function dispatch(ctx: ApiContext, route: ApiPath, r: ApiRequest): Promise<void> {
  switch (route.kind) {
    case 'base':
      return handleBase(ctx, r);
    case 'catalog':
      return handleCatalog(ctx, r);
    case 'replicationState':
      return handleReplicationState(ctx, r);
    case 'notFound':
      throw new OciError('NAME_UNKNOWN', 'no such API endpoint', undefined, 404);
  }
  if (!isRepositoryName(route.name)) throw new OciError('NAME_INVALID', `invalid repository name: ${route.name}`, { name: route.name });
  switch (route.kind) {
    case 'blob':
      return handleBlob(ctx, r, route.name, route.digest);
    case 'manifest':
      return handleManifest(ctx, r, route.name, route.reference);
    case 'uploads':
      return handleUploadStart(ctx, r, route.name);
    case 'upload':
      return handleUploadSession(ctx, r, route.name, route.id);
    case 'tags':
      return handleTags(ctx, r, route.name);
    case 'referrers':
      return handleReferrers(ctx, r, route.name, route.digest);
  }
}

export function createRegistryApp(options: RegistryAppOptions): RequestListener {
  const hooks = options.hooks ?? noopHooks;
  const ctx: ApiContext = {
    store: options.store,
    hooks,
    deleteEnabled: options.deleteEnabled ?? false,
    maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
    sessions: new OpenSessions(options.sessionLimits ?? DEFAULT_SESSION_LIMITS),
    blobRedirectMs: options.blobRedirectMs,
  };
  const { logger, auth } = options;
  const observe = requestObserver(options.metrics);
  // Decided once: with access logging off, no log object is built per request.
  const logAccess = logger.isLevelEnabled('info');

  const fail = (req: IncomingMessage, res: ServerResponse, socket: Socket, failure: unknown): void => {
    if (failure instanceof StorageError && failure.fault.kind === 'corrupt') logger.error({ err: failure, method: req.method, url: req.url }, 'corrupt storage');
    if (failure instanceof StorageError && failure.fault.kind === 'unavailable') logger.warn({ err: failure, method: req.method, url: req.url }, 'storage unavailable');
    const err = clientError(failure);
    const code = (err as NodeJS.ErrnoException).code;
    // The client is gone when its socket is. Not `req.destroyed`: Node 20 sets that as soon as a
    // body has been read in full, which made every storage failure after the body (a full disk
    // on a manifest PUT) an empty reply instead of an error.
    if (!(err instanceof OciError) && ((code !== undefined && CLIENT_GONE.has(code)) || socket.destroyed)) {
      res.destroy();
      return;
    }
    answerError(req, res, err);
    // An error answered before the body was read: what is left of it is discarded, for a
    // bounded time, rather than stored or waited for (it may be gigabytes of a refused upload).
    discardThenClose(req, socket);
  };

  const answerError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    if (err instanceof OciError) {
      const headers: Record<string, string> = err.code === 'UNAUTHORIZED' ? { 'www-authenticate': BASIC_CHALLENGE } : {};
      if (err instanceof RetryLaterError) headers['retry-after'] = String(err.retryAfterSeconds);
      sendOciError(res, err.code, err.message, { status: err.status, detail: err.detail, headers: { ...err.headers, ...headers } });
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      logger.error({ err, method: req.method, url: req.url }, 'storage is full');
      sendOciError(res, 'UNAVAILABLE', 'the registry storage is full', { status: 507 });
      return;
    }
    logger.error({ err, method: req.method, url: req.url }, 'request failed');
    sendOciError(res, 'UNAVAILABLE', 'internal error', { status: 500 });
  };

  return (req, res) => {
    const started = performance.now();
    // Captured now: once the socket is destroyed, req.socket is null and remoteAddress undefined.
    const socket = req.socket;
    const remote = socket.remoteAddress;
    const read0 = socket.bytesRead;
    const written0 = socket.bytesWritten;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = parseApiPath(path);
    res.setHeader(API_VERSION_HEADER, API_VERSION);
    res.once('close', () => {
      const ms = performance.now() - started;
      // Body bytes received: Content-Length when the body was read whole (a small body often
      // arrives with the headers, before read0 was taken), else what the socket read meanwhile.
      const declared = req.headers['content-length'];
      const received = req.complete && declared !== undefined ? Number(declared) || 0 : socket.bytesRead - read0;
      observe(route.kind, req.method, res.statusCode, ms, received, socket.bytesWritten - written0);
      if (!logAccess) return;
      logger.info(
        {
          method: req.method,
          url,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          remote,
          // Behind the proxy, the client's address is in X-Forwarded-For.
          forwardedFor: req.headers['x-forwarded-for'],
          done: res.writableFinished,
        },
        'request',
      );
    });
    const r: ApiRequest = {
      req,
      res,
      query: q === -1 ? EMPTY_QUERY : new URLSearchParams(url.slice(q + 1)),
      client: clientAddress(remote, req.headers['x-forwarded-for']),
    };
    const run = async () => {
      // Node keeps a bounded number of header lines and drops the rest, Content-Length included: a
      // body whose length was dropped would be read as the next request, so the connection closes.
      if (tooManyHeaders(req)) throw new OciError('UNSUPPORTED', `more than ${MAX_REQUEST_HEADERS} header lines`, undefined, 431, { connection: 'close' });
      const signed = signedBlobAccess(options.signedBlobUrlKeys, route, req.method, q === -1 ? '' : url.slice(q + 1), Date.now());
      if (auth && !signed && route.kind !== 'notFound') await auth.authenticate(req.headers.authorization, r.client);
      await dispatch(ctx, route, r);
    };
    run().catch((err: unknown) => fail(req, res, socket, err));
  };
}

/**
 * Counts and times requests; label children are created once per combination, not per request,
 * and count in plain cells read at scrape time (a prom-client child checks and hashes its labels
 * on every inc() or observe()).
 */
type Observer = (route: string, method: string | undefined, status: number, ms: number, received: number, sent: number) => void;

function requestObserver(registry: Registry | undefined): Observer {
  if (!registry) return () => undefined;
  const requests = deferredCounter({
    name: 'haproxy_registry_http_requests_total',
    help: 'Registry API requests by resource, method and status code',
    labelNames: ['route', 'method', 'code'],
    registers: [registry],
  });
  const duration = deferredHistogram({
    name: 'haproxy_registry_http_request_duration_seconds',
    help: 'Registry API request duration (until the response is finished or aborted)',
    labelNames: ['route', 'method'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // Socket byte counters around the request (headers included): blob traffic per resource.
  const received = deferredCounter({ name: 'haproxy_registry_received_bytes_total', help: 'Request body bytes received from clients', labelNames: ['route'], registers: [registry] });
  const sent = deferredCounter({ name: 'haproxy_registry_sent_bytes_total', help: 'Response bytes (headers included) sent to clients', labelNames: ['route'], registers: [registry] });
  const byteCounters = new Map<string, [ReturnType<typeof received.labels>, ReturnType<typeof sent.labels>]>();
  const counters = new Map<string, ReturnType<typeof requests.labels>>();
  const timers = new Map<string, ReturnType<typeof duration.labels>>();
  return (route, rawMethod, status, ms, receivedBytes, sentBytes) => {
    let bytes = byteCounters.get(route);
    if (!bytes) byteCounters.set(route, (bytes = [received.labels({ route }), sent.labels({ route })]));
    if (receivedBytes > 0) bytes[0].inc(receivedBytes);
    if (sentBytes > 0) bytes[1].inc(sentBytes);
    const method = rawMethod !== undefined && KNOWN_METHODS.has(rawMethod) ? rawMethod : 'OTHER';
    const ckey = `${route} ${method} ${status}`;
    let c = counters.get(ckey);
    if (!c) counters.set(ckey, (c = requests.labels({ route, method, code: String(status) })));
    c.inc();
    const tkey = `${route} ${method}`;
    let t = timers.get(tkey);
    if (!t) timers.set(tkey, (t = duration.labels({ route, method })));
    t.observe(ms / 1000);
  };
}
