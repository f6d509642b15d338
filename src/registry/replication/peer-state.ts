// What this replica knows about one peer: its client, whether it answers, and when it last did.
import type { PeerClient } from './peer-client.js';
import type { QueuedTask } from './work-queue.js';

export interface PeerState {
  /** Label and queue key: the peer URL. */
  id: string;
  client: PeerClient;
  /** Set after a connect failure or timeout; cleared by the next successful exchange. */
  down: boolean;
  lastSuccessAt?: number;
  /** Consecutive failed probes while down (drives the probe backoff). */
  probeFailures: number;
  nextProbeAt: number;
  /** Tasks being copied right now (synchronously for an ack or by the background queue). */
  busy: Set<QueuedTask>;
}
