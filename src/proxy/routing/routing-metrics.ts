// Counters for routing decisions on the proxy's prom-client registry. Labels are small closed
// sets: never a repository or backend-chosen value (one series per value: unbounded cardinality).
import { Counter, type Registry } from 'prom-client';
import { deferredCounter } from '../../observability/deferred-counter.js';
import type { Backend } from '../backend.js';
import type { RouteKind, RoutingEvents } from './registry-router.js';

export function createRoutingMetrics(registry: Registry, prefix = 'haproxy_'): RoutingEvents {
  // Moved by every request: counted as a plain number, copied at scrape time.
  const requests = deferredCounter({
    name: `${prefix}routing_requests_total`,
    help: 'Requests by routing decision: upload_affinity (signed upload token), repository (write to the home backend), repository_read, any, sticky, rejected',
    labelNames: ['route'],
    registers: [registry],
  });
  const affinityMisses = new Counter({
    name: `${prefix}routing_upload_affinity_misses_total`,
    help: 'Upload requests answered BLOB_UPLOAD_UNKNOWN because the backend that owns the session was down or gone',
    registers: [registry],
  });
  const tokenRejections = new Counter({
    name: `${prefix}routing_upload_token_rejections_total`,
    help: 'Upload requests refused because their upload token was forged, corrupted or signed with another secret',
    registers: [registry],
  });
  const redispatches = new Counter({
    name: `${prefix}routing_cookie_redispatches_total`,
    help: 'Requests whose sticky cookie named a backend that could not serve them, sent elsewhere with a new cookie',
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: `${prefix}routing_read_fallbacks_total`,
    help: 'Manifest or blob reads tried on the next backend: not_found (404, replication lag) or digest_mismatch',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Pre-create the label sets so every series exists (at 0) from the first scrape.
  const kinds: RouteKind[] = ['upload_affinity', 'repository', 'repository_read', 'any', 'sticky', 'rejected'];
  const byKind = new Map(kinds.map((k) => [k, requests.labels({ route: k })]));
  const notFound = fallbacks.labels('not_found');
  const mismatch = fallbacks.labels('digest_mismatch');
  return {
    routed: (kind) => byKind.get(kind)!.inc(),
    affinityMiss: () => affinityMisses.inc(),
    tokenRejected: () => tokenRejections.inc(),
    cookieRedispatch: () => redispatches.inc(),
    readFallback: (reason) => (reason === 'not_found' ? notFound : mismatch).inc(),
  };
}

/** Counts blob GETs answered with a redirect, per backend redirected to (configured names only). */
export function createBlobRedirectMetrics(registry: Registry, prefix = 'haproxy_'): (backend: Backend) => void {
  const redirects = new Counter({
    name: `${prefix}blob_redirects_total`,
    help: 'Blob GETs answered 307 to a backend\'s publicUrl (routing.blobRedirect): their bytes did not pass through the proxy',
    labelNames: ['server'],
    registers: [registry],
  });
  const byServer = new Map<string, Counter.Internal>();
  return (backend) => {
    let counter = byServer.get(backend.name);
    if (!counter) byServer.set(backend.name, (counter = redirects.labels({ server: backend.name })));
    counter.inc();
  };
}
