// Header rules of the forwarder, as pure functions: hop-by-hop headers stay on their own hop,
// X-Forwarded-* tell the backend who asked, and absolute Location headers that point at a
// backend are rewritten to the address the client used.
import type { IncomingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS } from '../net/hop-by-hop.js';
import type { ResponseFields } from './response-fields.js';
import { DELETED_HEADER, REPLICATION_HEADER, REPLICATION_TIME_HEADER } from '../oci/replication-headers.js';

/**
 * Replication markers of the built-in replicas. Only replicas may send them: a client that did
 * could keep its push from replicating or stamp a tag with a far-future time that always wins.
 */
const REPLICA_ONLY_REQUEST = [REPLICATION_HEADER, REPLICATION_TIME_HEADER];
/**
 * On a 404 from a built-in replica: the replica deleted what was asked (it holds a tombstone).
 * Meant for the proxy alone; never sent on.
 */
const DELETED_RESPONSE = DELETED_HEADER;

/**
 * Prepares the client's headers for the backend, in place, once per request (not per attempt,
 * so a retry does not append X-Forwarded-For twice, as http-proxy's `xfwd` would).
 * - `Host` is kept (changeOrigin stays false: registries build URLs from it).
 * - `Expect` is dropped: Node has already answered `100 Continue` to the client (and undici
 *   refuses to send it).
 * - X-Forwarded-For is appended to; X-Forwarded-Proto and -Host are set unless a proxy in
 *   front of us (a TLS terminator) already set them.
 */
export function prepareRequestHeaders(headers: IncomingHttpHeaders, remoteAddress: string | undefined, proto: 'http' | 'https'): void {
  const connection = headers.connection;
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    for (const name of connection.split(',')) delete headers[name.trim().toLowerCase()];
  }
  for (const name of HOP_BY_HOP_HEADERS) if (headers[name] !== undefined) delete headers[name];
  for (const name of REPLICA_ONLY_REQUEST) if (headers[name] !== undefined) delete headers[name];
  if (headers.expect !== undefined) delete headers.expect;
  const client = remoteAddress ?? '';
  const prior = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = proto;
  if (headers['x-forwarded-host'] === undefined && headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
}

/**
 * The origin the client used: its Host, and the scheme a TLS terminator in front of us reported
 * in X-Forwarded-Proto (set to `http` by prepareRequestHeaders when nobody did).
 */
export function clientOrigin(headers: IncomingHttpHeaders, fallbackHost: string): string {
  const forwarded = headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0].trim().toLowerCase();
  return `${first === 'https' ? 'https' : 'http'}://${headers.host ?? fallbackHost}`;
}

/**
 * `Location: http://backend:5001/v2/...` -> `<the client's origin>/v2/...`; relative
 * locations and locations pointing elsewhere (e.g. a storage redirect) are left alone.
 * Returns undefined when nothing changes.
 */
export function rewriteLocation(location: string, backendOrigins: ReadonlySet<string>, publicOrigin: string): string | undefined {
  if (location.startsWith('/')) return undefined;
  const schemeEnd = location.indexOf('://');
  if (schemeEnd < 0) return undefined;
  const pathStart = location.indexOf('/', schemeEnd + 3);
  const origin = (pathStart < 0 ? location : location.slice(0, pathStart)).toLowerCase();
  if (!backendOrigins.has(origin) && !backendOrigins.has(stripDefaultPort(origin))) return undefined;
  return publicOrigin + (pathStart < 0 ? '/' : location.slice(pathStart));
}

function stripDefaultPort(origin: string): string {
  if (origin.startsWith('http://') && origin.endsWith(':80')) return origin.slice(0, -3);
  if (origin.startsWith('https://') && origin.endsWith(':443')) return origin.slice(0, -4);
  return origin;
}

/** Whether a request carries a body, by its framing headers. */
export function hasRequestBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** True when a backend's 404 means "deleted here", which no other replica may overrule. */
export function isDeletedAnswer(status: number, headers: ResponseFields): boolean {
  return status === 404 && headers.has(DELETED_RESPONSE);
}

/** Drops the headers replicas address to the proxy from a response, in place, before the client sees it. */
export function stripReplicaResponseHeaders(headers: ResponseFields): void {
  headers.delete(DELETED_RESPONSE);
}
