// Decides whether a client's write (a manifest push or a delete) may be acknowledged, from what
// the peers answered.
import type { OciErrorCode } from '../../errors/oci-codes.js';

export type AckMode = 'all' | 'majority' | 'one';

/** Outcome of the synchronous copy to one peer. */
export type PeerOutcome =
  | { peer: string; result: 'stored' }
  /** Connect failure, timeout or 5xx: the peer counts as unhealthy and is repaired later. */
  | { peer: string; result: 'unavailable'; reason: string }
  /** The peer answered and refused (4xx): the content cannot be held there as pushed. */
  | { peer: string; result: 'refused'; reason: string };

export type AckDecision = { ok: true; holders: number } | { ok: false; code: OciErrorCode; message: string };

/** Replicas that must hold the content (this one included) for `majority` over `replicas` in total. */
export function majorityOf(replicas: number): number {
  return Math.floor(replicas / 2) + 1;
}

/** `what` names the write in the refusal ("the manifest", "the delete"). */
export function decideAck(mode: AckMode, outcomes: readonly PeerOutcome[], what = 'the manifest'): AckDecision {
  const holders = 1 + outcomes.filter((o) => o.result === 'stored').length;
  if (mode === 'one') return { ok: true, holders };
  if (mode === 'all') {
    const refused = outcomes.filter((o) => o.result === 'refused');
    if (refused.length === 0) return { ok: true, holders };
    return {
      ok: false,
      code: 'UNAVAILABLE',
      message: `replication (ack: all) failed: ${refused.map((o) => `${o.peer}: ${o.reason}`).join('; ')}`,
    };
  }
  const needed = majorityOf(outcomes.length + 1);
  if (holders >= needed) return { ok: true, holders };
  const why = outcomes.filter((o) => o.result !== 'stored').map((o) => `${o.peer}: ${o.reason}`);
  return {
    ok: false,
    code: 'UNAVAILABLE',
    message: `replication (ack: majority) failed: ${holders} of ${outcomes.length + 1} replicas hold ${what}, ${needed} required (${why.join('; ')})`,
  };
}
