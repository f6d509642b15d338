// HMAC signing shared by upload tokens, sticky cookies (the proxy) and blob redirect URLs (signed
// by the proxy, checked by the built-in registry: so it lives here, where both may import it).
// One configured secret, one derived key per purpose, so a cookie value can never be replayed as
// an upload token or a blob URL signature, or the other way round. Rotation: values are signed
// with the current secret's key and accepted under it or under the keys of
// `routing.previousSecrets`, so values issued before a rotation keep working.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// 128 bits of HMAC-SHA256 are far beyond guessing range and keep URLs and cookies short.
const MAC_BYTES = 16;

export type SigningPurpose = 'upload-token' | 'sticky-cookie' | 'blob-redirect';

export interface RoutingSecret {
  value: Buffer;
  /** True when no secret was configured and this process made one up. */
  generated: boolean;
}

/**
 * The configured secret, or a random one for this process. A random secret works for a single
 * proxy, but its tokens die with the process and a second proxy cannot verify them; the caller
 * logs a warning saying so.
 */
export function resolveSecret(configured: string | undefined): RoutingSecret {
  if (configured !== undefined) return { value: Buffer.from(configured, 'utf8'), generated: false };
  return { value: randomBytes(32), generated: true };
}

export function deriveKey(secret: Buffer, purpose: SigningPurpose): Buffer {
  return createHmac('sha256', secret).update(`ha-proxy/${purpose}/v1`).digest();
}

/** The MAC over the fields; NUL-joined because no field may contain a NUL. */
export function macOf(key: Buffer, fields: readonly string[]): Buffer {
  return createHmac('sha256', key).update(fields.join('\0')).digest().subarray(0, MAC_BYTES);
}

/**
 * Keys for one purpose: the first signs, every one verifies (the current secret's, then those of
 * the previous secrets still accepted).
 */
export type Keyring = readonly [Buffer, ...Buffer[]];

export function deriveKeyring(secrets: readonly [Buffer, ...Buffer[]], purpose: SigningPurpose): Keyring {
  const [current, ...previous] = secrets;
  return [deriveKey(current, purpose), ...previous.map((secret) => deriveKey(secret, purpose))];
}

/** Constant-time comparison of a received MAC (any length) with the one each key expects. */
export function macMatches(keys: Keyring, fields: readonly string[], received: Buffer): boolean {
  return keys.some((key) => {
    const expected = macOf(key, fields);
    return received.length === expected.length && timingSafeEqual(received, expected);
  });
}

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Strict base64url decoding: undefined for anything that is not canonical base64url. */
export function fromBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL_RE.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url');
  return decoded.toString('base64url') === text ? decoded : undefined;
}
