// Why an attempt to forward a request failed, what the client is told, and whether another
// backend may be tried: pure functions, declared once (the proxy's error table, README "proxy").
//
// Whose fault: `passive: true` failures count against the backend (passive health). Those the
// request or this process caused (REQUEST_INVALID, LOCAL_RESOURCE, PROXY_FAULT, CLIENT_ABORTED)
// never do.
//
// Retry rules (as HAProxy's `retry-on`: never replay a body that has started streaming):
//   - GET/HEAD: retried after a connect failure, a reset or a response timeout before the
//     response started (they are idempotent and carry no body).
//   - any other method: retried only when it has no body and the backend never saw it (the
//     connection was never established): nothing was consumed and nothing can run twice. A
//     reset after the connection was up is not retried: the backend may have acted on it.
//
// A backend marked DOWN ends at once the attempts on it that wait for their response: a frozen
// (SIGSTOPped) backend keeps its connections open, so without this a request sent just before
// the mark-down waited for `responseHeadersMs` (60 s). MARKED_DOWN then maps like a reset: a
// GET/HEAD whose response has not started goes to the next backend; anything else is answered,
// and an upload chunk pinned to its owner gets the route's BLOB_UPLOAD_UNKNOWN so the client
// restarts the upload. A transfer whose bytes are moving is not ended by default (forwarder.ts,
// `healthCheck.onMarkedDown`).

import { isLocalResourceError } from '../net/local-resource-errors.js';

export const FAILURES = {
  /** The TCP (or TLS) connection could not be made: refused, unreachable, DNS. */
  CONNECT_FAILED: { status: 502, message: 'cannot connect to the backend', passive: true },
  /** The connect timer fired (`timeouts.connectMs`). */
  CONNECT_TIMEOUT: { status: 504, message: 'connecting to the backend timed out', passive: true },
  /** The connection was reset or closed after the request was sent, before any response. */
  RESET: { status: 502, message: 'the backend closed the connection before responding', passive: true },
  /** The response timer fired (`timeouts.responseHeadersMs` after the request was sent). */
  RESPONSE_TIMEOUT: { status: 504, message: 'the backend did not respond in time', passive: true },
  /** The backend was marked DOWN while this attempt waited for it; the mark-down already counted. */
  MARKED_DOWN: { status: 503, message: 'the backend was marked DOWN while the request was in flight', passive: false },
  /**
   * The upstream client refused to send the request as it stands (undici's UND_ERR_INVALID_ARG,
   * UND_ERR_NOT_SUPPORTED: a target, method or header it cannot send). The same request would
   * fail on every backend, so it is answered at once and no backend is tried or blamed.
   */
  REQUEST_INVALID: { status: 400, message: 'the request cannot be forwarded', passive: false },
  /** This process ran out of descriptors, memory or buffers (EMFILE, ENOMEM...): not the backend's doing. */
  LOCAL_RESOURCE: { status: 503, message: 'the proxy is short of resources, try again', passive: false },
  /**
   * A defect of the proxy's own while it handled the backend's answer (a routing hook threw on
   * the response headers): undici would report it as the backend's failure.
   */
  PROXY_FAULT: { status: 500, message: 'internal proxy error', passive: false },
  /** The client went away; nothing is sent and the backend is not blamed. */
  CLIENT_ABORTED: { status: 499, message: 'the client closed the connection', passive: false },
  /** A 404 dropped in favour of the next candidate (RouteDecision.fallbackOn404). */
  FALLTHROUGH: { status: 404, message: 'not found on this backend', passive: false },
} as const;

export type FailureCode = keyof typeof FAILURES;

export interface UpstreamFailure {
  readonly code: FailureCode;
  /** The socket error code or timer detail, for logs. */
  readonly detail: string;
}

/** Whether this request may go to the next candidate after this failure. */
export function isRetryable(failure: UpstreamFailure, method: string, hasBody: boolean): boolean {
  switch (failure.code) {
    case 'CONNECT_FAILED':
    case 'CONNECT_TIMEOUT':
      return method === 'GET' || method === 'HEAD' || !hasBody;
    case 'RESET':
    case 'RESPONSE_TIMEOUT':
    case 'MARKED_DOWN':
      return method === 'GET' || method === 'HEAD';
    case 'FALLTHROUGH':
      return true;
    case 'REQUEST_INVALID':
    case 'LOCAL_RESOURCE':
    case 'PROXY_FAULT':
    case 'CLIENT_ABORTED':
      return false;
  }
}

/** Socket errors that mean the connection was never established. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ECONNABORTED']);

/**
 * Classifies an upstream error (a socket error code or undici's) that struck before the response
 * started. (A body that stalls for `timeouts.idleMs` can only stall after it: that destroys the
 * client connection, it is never answered.)
 */
export function classifyUpstreamError(code: string | undefined, connected: boolean): FailureCode {
  if (isLocalResourceError(code)) return 'LOCAL_RESOURCE';
  switch (code) {
    // Thrown while building the request, before any connection is asked for.
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return 'REQUEST_INVALID';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'CONNECT_TIMEOUT';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'RESPONSE_TIMEOUT';
  }
  if (!connected) return 'CONNECT_FAILED';
  return code !== undefined && CONNECT_ERRORS.has(code) ? 'CONNECT_FAILED' : 'RESET';
}

/** Whether a backend's own response counts against it for passive health (HAProxy observe layer7). */
export function isServerError(status: number): boolean {
  // 501 Not Implemented and 505 HTTP Version Not Supported describe the request, not the server.
  return status >= 500 && status !== 501 && status !== 505;
}
