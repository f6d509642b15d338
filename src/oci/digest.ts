// Digests (`algorithm:hex`) as the spec defines them, and the hashers computed while streaming: the
// one digest module of the API, storage and replication. Syntax alone (any algorithm) is
// grammar.ts's isDigest; parseDigest accepts only the algorithms we can verify.
import { createHash, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex`, the canonical string form. */
  value: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

/** Parses a digest string; undefined when it is malformed or uses an algorithm we cannot verify. */
export function parseDigest(value: string): Digest | undefined {
  const m = DIGEST_RE.exec(value);
  if (!m) return undefined;
  const algorithm = m[1] as DigestAlgorithm;
  if (m[2].length !== HEX_LENGTH[algorithm]) return undefined;
  return { algorithm, hex: m[2], value };
}

export function newHasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(algorithm: DigestAlgorithm, data: Buffer | string): Digest {
  const hex = createHash(algorithm).update(data).digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

export function digestFromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  const hex = hash.digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}
