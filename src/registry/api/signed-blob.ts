// The registry's side of blob redirects (`routing.blobRedirect`): a blob GET that carries the
// proxy's signature (src/oci/blob-url-signature.ts) is served without other authentication when
// the signature holds for this repository and digest and has not expired. It is the only
// credential for that one URL: a bad one is refused (403 DENIED) even on a registry without
// auth, so a tampered or stale URL always fails the same way, and the client goes back through
// the proxy.
import { OciError } from '../../errors/oci-codes.js';
import { blobSignaturesOf, verifyBlobSignature } from '../../oci/blob-url-signature.js';
import type { ApiPath } from '../../oci/api-path.js';
import type { Keyring } from '../../oci/signing.js';

/**
 * True when this request is a signed blob GET whose signature holds (skip authentication);
 * false when it carries no signature or signed URLs are off here (authenticate as usual).
 * Throws DENIED for a signature that does not hold.
 */
export function signedBlobAccess(keys: Keyring | undefined, route: ApiPath, method: string | undefined, rawQuery: string, nowMs: number): boolean {
  if (keys === undefined || route.kind !== 'blob' || method !== 'GET') return false;
  const signatures = blobSignaturesOf(rawQuery);
  if (signatures === undefined) return false;
  if (signatures.length > 1) throw new OciError('DENIED', 'more than one blob URL signature in the URL');
  const check = verifyBlobSignature(keys, signatures[0], route.name, route.digest, nowMs);
  if (!check.ok) throw new OciError('DENIED', check.reason);
  return true;
}
