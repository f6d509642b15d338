// Rendezvous (highest-random-weight) hashing: every backend scores every key, the highest score
// owns it. Removing a backend moves only the keys it owned, and they return to it when it comes
// back; zot's `hash % members` reshuffles nearly everything instead (zot#4215). Weighted with
// the logarithmic method (Schindelhauer & Schomaker), so a weight-2 backend owns twice the keys.
export interface RendezvousNode {
  /** Stable identity: the configured backend name, so every proxy process agrees. */
  name: string;
  weight: number;
}

/**
 * MurmurHash3 (x86, 32-bit) over the string's UTF-16 code units; repository names are ASCII by
 * the spec's grammar, so this equals hashing their bytes. Chosen over node:crypto's sha256, which
 * cost about 2.5 us per (backend, name) pair on the request path; murmur3 with a per-backend
 * seed costs well under a tenth of that and spreads names as evenly (routing-rendezvous tests).
 */
export function murmur3(text: string, seed: number): number {
  let h = seed >>> 0;
  const n = text.length;
  const whole = n & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 8) | ((text.charCodeAt(i + 2) & 0xffff) << 16) | ((text.charCodeAt(i + 3) & 0xffff) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let k = text.charCodeAt(whole) & 0xffff;
    if (rest > 1) k ^= (text.charCodeAt(whole + 1) & 0xffff) << 8;
    if (rest > 2) k ^= (text.charCodeAt(whole + 2) & 0xffff) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Backend names are few and fixed: their seeds are computed once.
const seeds = new Map<string, number>();
function seedOf(node: string): number {
  let seed = seeds.get(node);
  if (seed === undefined) {
    seed = murmur3(node, 0x5eed);
    seeds.set(node, seed);
  }
  return seed;
}

const UNIT = 2 ** 32;

/** A uniform number in (0, 1) for the pair, identical in every process. */
export function unitHash(node: string, key: string): number {
  return (murmur3(key, seedOf(node)) + 0.5) / UNIT;
}

/** The node's score for `key`; the highest score wins. */
export function rendezvousScore(node: RendezvousNode, key: string): number {
  return node.weight / -Math.log(unitHash(node.name, key));
}

/** The nodes ordered from owner to least preferred for `key` (ties broken by name). */
export function rendezvousOrder<T extends RendezvousNode>(nodes: readonly T[], key: string): T[] {
  return nodes
    .map((node) => ({ node, score: rendezvousScore(node, key) }))
    .sort((a, b) => b.score - a.score || (a.node.name < b.node.name ? -1 : 1))
    .map((entry) => entry.node);
}

/** The owner of `key` among `nodes`, or undefined when there are none. */
export function rendezvousOwner<T extends RendezvousNode>(nodes: readonly T[], key: string): T | undefined {
  let best: T | undefined;
  let bestScore = -Infinity;
  for (const node of nodes) {
    const score = rendezvousScore(node, key);
    if (score > bestScore || (score === bestScore && best !== undefined && node.name < best.name)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}
