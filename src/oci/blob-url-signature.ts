// Signed blob URLs for blob redirects: the proxy answers a blob GET with 307 to a replica's
// public URL carrying `?_ha_blob=<signature>`, and the built-in registry serves that one blob
// without other authentication when the signature holds. The signature binds the repository,
// the digest and an expiry time, so it can be neither moved to another blob nor kept for later.
// Pure: keys and the current time come in, a verdict comes out.
import { fromBase64Url, macMatches, macOf, type Keyring } from './signing.js';

/** The query parameter that carries the signature on a redirected blob URL. */
export const BLOB_SIGNATURE_PARAM = '_ha_blob';
const VERSION = 'b1';
// Expiry in whole seconds since the epoch: as precise as a clock shared between hosts is.
const EXPIRY_RE = /^[1-9][0-9]{0,11}$/;

export type BlobSignatureCheck = { ok: true } | { ok: false; reason: string };

function fieldsOf(repository: string, digest: string, expires: string): string[] {
  return [VERSION, repository, digest, expires];
}

/** `b1.<expiry, unix seconds>.<mac, base64url>`: URL-safe, so it needs no escaping in a query. */
export function signBlobUrl(keys: Keyring, repository: string, digest: string, expiresAtMs: number): string {
  const expires = String(Math.ceil(expiresAtMs / 1000));
  return `${VERSION}.${expires}.${macOf(keys[0], fieldsOf(repository, digest, expires)).toString('base64url')}`;
}

/** Checks a signature received on a GET of `repository`'s blob `digest` at `nowMs`. */
export function verifyBlobSignature(keys: Keyring, signature: string, repository: string, digest: string, nowMs: number): BlobSignatureCheck {
  const parts = signature.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !EXPIRY_RE.test(parts[1])) return { ok: false, reason: 'malformed blob URL signature' };
  const mac = fromBase64Url(parts[2]);
  if (!mac || !macMatches(keys, fieldsOf(repository, digest, parts[1]), mac)) {
    return { ok: false, reason: 'blob URL signature does not match (altered URL, another blob, or a registry without the proxy\'s routing.secret)' };
  }
  // Checked after the MAC: only a genuine expiry is reported as one.
  if (Number(parts[1]) * 1000 < nowMs) return { ok: false, reason: 'blob URL signature expired: fetch the blob through the proxy again' };
  return { ok: true };
}

/**
 * The `_ha_blob` values of a raw query string (without `?`). Undefined when there is none; more
 * than one is refused by the caller (which one would hold is ambiguous).
 */
export function blobSignaturesOf(query: string): string[] | undefined {
  if (!query.includes(BLOB_SIGNATURE_PARAM)) return undefined;
  const values = new URLSearchParams(query).getAll(BLOB_SIGNATURE_PARAM);
  return values.length === 0 ? undefined : values;
}
