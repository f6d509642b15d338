// Upload affinity without shared state: the Location of an upload session carries a signed token
// naming the backend that owns it. Any proxy holding the same secret can route the next PATCH or
// PUT there, whether it restarted in between or never saw the POST. The token is tamper-evident,
// not secret: it names a backend, which is no secret, and binds it to the repository.
import { fromBase64Url, macMatches, macOf, type Keyring } from '../../oci/signing.js';

/** The query parameter the proxy adds to upload Locations and removes before forwarding. */
export const UPLOAD_TOKEN_PARAM = '_ha_upload';
const VERSION = 'u1';

export type TokenCheck =
  | { ok: true; backend: string }
  | { ok: false; reason: string };

function fieldsOf(backend: string, repository: string): string[] {
  return [VERSION, backend, repository];
}

/** `u1.<backend, base64url>.<mac, base64url>`: URL-safe, so it needs no escaping in a query. */
export function signUploadToken(keys: Keyring, backend: string, repository: string): string {
  const mac = macOf(keys[0], fieldsOf(backend, repository));
  return `${VERSION}.${Buffer.from(backend, 'utf8').toString('base64url')}.${mac.toString('base64url')}`;
}

/** Checks a token received on a request for `repository` (empty when the path names none). */
export function verifyUploadToken(keys: Keyring, token: string, repository: string): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed upload token' };
  const backendBytes = fromBase64Url(parts[1]);
  const mac = fromBase64Url(parts[2]);
  if (!backendBytes || backendBytes.length === 0 || !mac) return { ok: false, reason: 'malformed upload token' };
  const backend = backendBytes.toString('utf8');
  if (backend.includes('\0') || !macMatches(keys, fieldsOf(backend, repository), mac)) {
    return { ok: false, reason: 'upload token signature does not match (altered Location, another repository, or proxies with different routing.secret)' };
  }
  return { ok: true, backend };
}
