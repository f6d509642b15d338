// What this replica knows about one peer: its client, whether it answers, and when it last did;
// how a synchronous copy for an ack treats it and what the background queue does with it next
// (ackWait and pumpAction, pure decisions).
import type { PeerClient } from './peer-client.js';
import type { QueuedTask } from './work-queue.js';
import type { PeerOutcome } from './write-concern.js';

export interface PeerState {
  /** Label and queue key: the peer URL. */
  id: string;
  /** Background copies, anti-entropy, probes and on-demand fetches: `peerTimeoutMs` of silence fails a call. */
  client: PeerClient;
  /** The same connections for the copies a client's write waits on: `ackTimeoutMs` of silence. */
  ackClient: PeerClient;
  /** Set after a connect failure or timeout; cleared by the next successful exchange. */
  down: boolean;
  lastSuccessAt?: number;
  /** Consecutive failed probes while down (drives the probe backoff). */
  probeFailures: number;
  nextProbeAt: number;
  /** Keys of the tasks being copied right now (synchronously for an ack or by the background queue). */
  busy: Map<string, QueuedTask>;
  /** Its last ack did not come (down, or no answer in time): it stays suspect until an ack succeeds. */
  missedLastAck: boolean;
}

/**
 * How long an ack waits on a suspect peer, as a fraction of `ackTimeoutMs` (1 s of the default
 * 5 s): a copy to a live replica on a LAN takes milliseconds, and the blobs usually arrived
 * already (copied as they were pushed), while a frozen peer cost every push the full timeout.
 */
const SUSPECT_ACK_FRACTION = 5;

export type AckWait =
  /** Down: the ack does not wait; the background probe finds out when it is back. */
  | { readonly skip: true }
  /** Wait on the copy for at most `withinMs` (undefined: as long as bytes keep moving, ackTimeoutMs idle). */
  | { readonly skip: false; readonly withinMs: number | undefined };

/** How a synchronous copy for an ack treats this peer. */
export function ackWait(peer: Pick<PeerState, 'down' | 'missedLastAck'>, ackTimeoutMs: number): AckWait {
  if (peer.down) return { skip: true };
  if (peer.missedLastAck) return { skip: false, withinMs: Math.max(1, Math.floor(ackTimeoutMs / SUSPECT_ACK_FRACTION)) };
  return { skip: false, withinMs: undefined };
}

/** Whether the ack's outcome leaves the peer suspect: only an answer clears it (a refusal is one). */
export function missedAck(outcome: PeerOutcome['result']): boolean {
  return outcome === 'unavailable';
}

export type PumpAction =
  /** Down and its probe is due (and nothing of it runs any more): ask whether it answers. */
  | { readonly kind: 'probe' }
  /** Up with room: start up to `free` due tasks. */
  | { readonly kind: 'copy'; readonly free: number }
  | { readonly kind: 'wait' };

/** What one tick of the background queue does with a peer; `busy`: tasks of it being copied now. */
export function pumpAction(peer: Pick<PeerState, 'down' | 'nextProbeAt'>, busy: number, concurrency: number, now: number): PumpAction {
  if (peer.down) return now >= peer.nextProbeAt && busy === 0 ? { kind: 'probe' } : { kind: 'wait' };
  const free = concurrency - busy;
  return free > 0 ? { kind: 'copy', free } : { kind: 'wait' };
}
