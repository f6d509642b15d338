// Rendezvous (highest-random-weight) hashing: every backend scores every key, the highest score
// owns it. Removing a backend moves only the keys it owned, and they return to it when it comes
// back; zot's `hash % members` reshuffles nearly everything instead (zot#4215). Weighted with
// the logarithmic method (Schindelhauer & Schomaker), so a weight-2 backend owns twice the keys.
import { createHash } from 'node:crypto';

export interface RendezvousNode {
  /** Stable identity: the configured backend name, so every proxy process agrees. */
  name: string;
  weight: number;
}

// 48 bits of the hash become a uniform number in (0, 1): plenty of resolution, and within the
// range `readUIntBE` reads exactly.
const UNIT_BITS = 2 ** 48;

/** A uniform number in (0, 1) for the pair, identical in every process. */
export function unitHash(node: string, key: string): number {
  const digest = createHash('sha256').update(node).update('\0').update(key).digest();
  return (digest.readUIntBE(0, 6) + 0.5) / UNIT_BITS;
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
