// Every OCI error code we emit, declared once: HTTP status and default message
// (distribution-spec v1.1, "Error Codes"; UNAVAILABLE/TOO_MANY_REQUESTS as distribution uses them).
import type { ServerResponse } from 'node:http';
import { API_VERSION, API_VERSION_HEADER } from '../oci/protocol-headers.js';

export const OCI_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOO_MANY_REQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
} as const;

export type OciErrorCode = keyof typeof OCI_ERRORS;

/** A condition the registry or proxy reports to the client as an OCI error envelope. */
export class OciError extends Error {
  readonly status: number;
  constructor(
    readonly code: OciErrorCode,
    message?: string,
    readonly detail?: unknown,
    status?: number,
    /** Extra response headers (e.g. the replication DELETED_HEADER on a 404). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message ?? OCI_ERRORS[code].message);
    this.name = 'OciError';
    this.status = status ?? OCI_ERRORS[code].status;
  }
}

export function ociErrorBody(code: OciErrorCode, message?: string, detail?: unknown): string {
  const entry: Record<string, unknown> = { code, message: message ?? OCI_ERRORS[code].message };
  if (detail !== undefined) entry.detail = detail;
  return JSON.stringify({ errors: [entry] });
}

/**
 * Writes the envelope, or, when the response has already started, destroys the socket: a
 * status written into the middle of a body would look like part of the content.
 */
export function sendOciError(
  res: ServerResponse,
  code: OciErrorCode,
  message?: string,
  options: { status?: number; detail?: unknown; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = ociErrorBody(code, message, options.detail);
  res.writeHead(options.status ?? OCI_ERRORS[code].status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [API_VERSION_HEADER]: API_VERSION,
    ...options.headers,
  });
  res.end(body);
}
