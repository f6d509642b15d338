// Replication metrics (zot#2868 asks for exactly these). Peer URLs are the only label: their
// number is bounded by the config, unlike repository names.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PeerReplicationStatus } from '../../oci/replication-state.js';

export interface PeerSnapshot {
  peer: string;
  depth: number;
  oldestEnqueuedAt?: number;
  lastSuccessAt?: number;
  up: boolean;
}

/** Age of the oldest change not yet on the peer, in seconds (0 when it is up to date). */
export function lagSeconds(s: PeerSnapshot, now: number): number {
  return s.oldestEnqueuedAt === undefined ? 0 : Math.max(0, now - s.oldestEnqueuedAt) / 1000;
}

export class ReplicationMetrics {
  readonly objects: Counter<'peer'>;
  readonly bytes: Counter<'peer'>;
  readonly failures: Counter<'peer' | 'kind'>;
  readonly ackDropped: Counter<'peer'>;
  readonly onDemand: Counter<'kind' | 'result'>;
  readonly entropyRounds: Counter<'peer' | 'kind'>;

  constructor(
    registry: Registry,
    private readonly snapshot: () => PeerSnapshot[],
    prefix = 'haproxy_',
  ) {
    const registers = [registry];
    new Gauge({
      name: `${prefix}replication_lag_seconds`,
      help: 'Age of the oldest change not yet on the peer (0 when it is up to date)',
      labelNames: ['peer'],
      registers,
      collect() {
        const now = Date.now();
        for (const s of snapshot()) this.set({ peer: s.peer }, lagSeconds(s, now));
      },
    });
    new Gauge({
      name: `${prefix}replication_peer_up`,
      help: '1 while the peer answers and is in the ack set, 0 while it is down (repaired by the queue)',
      labelNames: ['peer'],
      registers,
      collect() {
        for (const s of snapshot()) this.set({ peer: s.peer }, s.up ? 1 : 0);
      },
    });
    new Gauge({
      name: `${prefix}replication_queue_depth`,
      help: 'Replication tasks waiting for the peer',
      labelNames: ['peer'],
      registers,
      collect() {
        for (const s of snapshot()) this.set({ peer: s.peer }, s.depth);
      },
    });
    new Gauge({
      name: `${prefix}replication_last_success_timestamp_seconds`,
      help: 'When the last copy to, or anti-entropy round with, the peer succeeded (unix seconds)',
      labelNames: ['peer'],
      registers,
      collect() {
        for (const s of snapshot()) if (s.lastSuccessAt !== undefined) this.set({ peer: s.peer }, s.lastSuccessAt / 1000);
      },
    });
    this.objects = new Counter({ name: `${prefix}replication_objects_total`, help: 'Blobs and manifests copied to the peer', labelNames: ['peer'], registers });
    this.bytes = new Counter({ name: `${prefix}replication_bytes_total`, help: 'Bytes of blobs and manifests copied to the peer', labelNames: ['peer'], registers });
    this.failures = new Counter({
      name: `${prefix}replication_failures_total`,
      help: 'Failed replication attempts (kind: unavailable, refused, local, anti_entropy)',
      labelNames: ['peer', 'kind'],
      registers,
    });
    this.ackDropped = new Counter({
      name: `${prefix}replication_ack_dropped_total`,
      help: 'Pushes acknowledged without this peer because it did not answer in time (repaired later)',
      labelNames: ['peer'],
      registers,
    });
    this.onDemand = new Counter({
      name: `${prefix}replication_on_demand_fetches_total`,
      help: 'Manifests and blobs fetched from a peer because a client asked for them',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.entropyRounds = new Counter({
      name: `${prefix}replication_anti_entropy_rounds_total`,
      help: 'Completed anti-entropy rounds with the peer (kind: full comparison, or changes since the last round)',
      labelNames: ['peer', 'kind'],
      registers,
    });
  }

  /** The same figures as the gauges, per peer, for GET /v2/_replication/state (the proxy's status page). */
  peerStatus(now = Date.now()): PeerReplicationStatus[] {
    return this.snapshot().map((s) => ({ peer: s.peer, up: s.up, queueDepth: s.depth, lagSeconds: lagSeconds(s, now) }));
  }
}
