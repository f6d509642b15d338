// AWS Signature Version 4 for S3 requests, as a pure function of the request, the credentials
// and the clock (no I/O): the Authorization header for requests, and presigned URLs. Bodies that
// are streamed are sent as UNSIGNED-PAYLOAD (the body is not hashed before it is sent; the
// transport and the digest check of the registry protect it).
import { createHash, createHmac } from 'node:crypto';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) also carry a session token. */
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  url: URL;
  /** Headers to send and sign besides host and the x-amz-* ones added here (lowercase names). */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, EMPTY_SHA256 for none, or UNSIGNED_PAYLOAD for a streamed body. */
  payloadHash: string;
  region: string;
  now: Date;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** 20130524T000000Z */
export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ (and '/' in paths). */
export function uriEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** The canonical path: S3 object keys are encoded once, segment by segment. */
function canonicalPath(url: URL): string {
  return uriEncode(decodeURIComponent(url.pathname), true);
}

const signingKeys = new Map<string, Buffer>();

/** The derived key for one day, region and secret; cached because every request needs it. */
function signingKey(secret: string, day: string, region: string): Buffer {
  const id = `${day}/${region}/${sha256Hex(secret)}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    if (signingKeys.size > 16) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

interface Signed {
  signature: string;
  credentialScope: string;
  signedHeaders: string;
}

function sign(req: SignableRequest, secret: string, headers: Record<string, string>, query: string): Signed {
  const date = amzDate(req.now);
  const day = date.slice(0, 8);
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonical = [req.method, canonicalPath(req.url), query, canonicalHeaders, signedHeaders, req.payloadHash].join('\n');
  const credentialScope = `${day}/${req.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, credentialScope, sha256Hex(canonical)].join('\n');
  const signature = createHmac('sha256', signingKey(secret, day, req.region)).update(toSign).digest('hex');
  return { signature, credentialScope, signedHeaders };
}

/** All headers to send: the request's own plus host, x-amz-date, x-amz-content-sha256, authorization. */
export function signRequest(req: SignableRequest, creds: S3Credentials): Record<string, string> {
  const headers: Record<string, string> = {
    ...lowercaseKeys(req.headers ?? {}),
    host: req.url.host,
    'x-amz-content-sha256': req.payloadHash,
    'x-amz-date': amzDate(req.now),
  };
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const s = sign(req, creds.secretAccessKey, headers, canonicalQuery(req.url));
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${s.credentialScope}, SignedHeaders=${s.signedHeaders}, Signature=${s.signature}`;
  return headers;
}

/** A URL that performs `req` (a GET, typically) without credentials until `expiresSeconds` pass. */
export function presignUrl(req: Omit<SignableRequest, 'payloadHash' | 'headers'>, creds: S3Credentials, expiresSeconds: number): URL {
  const url = new URL(req.url);
  const date = amzDate(req.now);
  url.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
  url.searchParams.set('X-Amz-Credential', `${creds.accessKeyId}/${date.slice(0, 8)}/${req.region}/s3/aws4_request`);
  url.searchParams.set('X-Amz-Date', date);
  url.searchParams.set('X-Amz-Expires', String(expiresSeconds));
  url.searchParams.set('X-Amz-SignedHeaders', 'host');
  if (creds.sessionToken) url.searchParams.set('X-Amz-Security-Token', creds.sessionToken);
  const s = sign({ ...req, url, payloadHash: UNSIGNED_PAYLOAD }, creds.secretAccessKey, { host: url.host }, canonicalQuery(url));
  url.searchParams.set('X-Amz-Signature', s.signature);
  return url;
}

function lowercaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
