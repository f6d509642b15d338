// How long an S3 request may take, what a failed one means, and whether it may be sent again:
// pure decisions for s3-client.ts (the proxy's upstream-failure.ts is the model).
//
// Bounds. An S3 server that accepts connections and never answers (frozen, partitioned) would
// otherwise hold the registry request using it, and a connection of the pool, for as long as
// the registry's client waits. Each request therefore has:
//   - connectMs: to open the TCP (TLS) connection;
//   - a deadline of connectMs + responseHeadersMs from the moment it is issued to its response
//     headers: queueing for a pooled connection, connecting, sending a buffered body (a part is
//     8 MiB) and the server's answer all count, so a request queued behind stuck ones is bounded too;
//   - bodyIdleMs: the longest gap between two bytes of the response body while it is read (not
//     while the reader itself holds back: a slow registry client is not a slow S3).
// A streamed request body (of unknown duration) has no deadline; instead each write that waits on
// a full socket must be taken within responseHeadersMs, and the answer must follow as long after.
//
// Retries (undici's retry rules): only before the response started, at most once, and only within
// the same deadline, so a retry never lengthens what a client waits. A timeout is not retried (a
// silent server would only make the client wait twice); a refused, reset or closed connection is, when the request can be sent
// again as it stands: GET, HEAD and DELETE, and PUT of a buffered body (S3 replaces an object or
// a part whole, so a second identical PUT leaves the same result). POST is never sent twice
// (CreateMultipartUpload would leave a second upload, CompleteMultipartUpload fails on a done one),
// nor a streamed body (it has been consumed).

export interface S3Timeouts {
  connectMs: number;
  responseHeadersMs: number;
  bodyIdleMs: number;
}

/** registry.s3.timeouts' defaults (why these: src/config/schema/s3.ts), for clients built without a config. */
export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 5000, responseHeadersMs: 30_000, bodyIdleMs: 30_000 };

/** What went wrong with the connection (never an S3 error answer: those are S3Error). */
export type S3ConnectionFault = 'connect' | 'connectTimeout' | 'reset' | 'responseTimeout' | 'bodyTimeout';

const FAULT_OF_CODE: Record<string, S3ConnectionFault> = {
  ECONNREFUSED: 'connect',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  ENOTFOUND: 'connect',
  EAI_AGAIN: 'connect',
  EADDRNOTAVAIL: 'connect',
  UND_ERR_CONNECT_TIMEOUT: 'connectTimeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  // undici: the server closed the connection (mid-request or mid-body).
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_HEADERS_TIMEOUT: 'responseTimeout',
  UND_ERR_BODY_TIMEOUT: 'bodyTimeout',
  // s3-client.ts: the request's deadline passed before its response headers.
  S3_DEADLINE: 'responseTimeout',
};

/** The connection fault an error of undici or the socket stands for; undefined for anything else. */
export function connectionFaultOf(err: unknown): S3ConnectionFault | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? FAULT_OF_CODE[code] : undefined;
}

const DESCRIPTION: Record<S3ConnectionFault, (t: S3Timeouts, code: string) => string> = {
  connect: (_t, code) => `cannot connect (${code})`,
  connectTimeout: (t) => `no connection within ${t.connectMs} ms (registry.s3.timeouts.connectMs)`,
  reset: (_t, code) => `the connection was closed before the answer was complete (${code})`,
  responseTimeout: (t) => `no answer within ${t.responseHeadersMs} ms (registry.s3.timeouts.responseHeadersMs)`,
  bodyTimeout: (t) => `the answer stalled for ${t.bodyIdleMs} ms (registry.s3.timeouts.bodyIdleMs)`,
};

/** `code`: the error's own (ECONNREFUSED...), named for the faults no setting bounds. */
export function describeConnectionFault(fault: S3ConnectionFault, timeouts: S3Timeouts, code: string): string {
  return DESCRIPTION[fault](timeouts, code);
}

/** Whether a request whose attempt failed this way may be sent once more within `remainingMs`. */
export function mayRetry(fault: S3ConnectionFault, method: string, streamedBody: boolean, remainingMs: number): boolean {
  if (remainingMs <= 0 || streamedBody || method === 'POST') return false;
  return fault === 'connect' || fault === 'reset';
}
