// The configured peers and whether each answers: marked down by a failed call, probed in the
// background with backoff while down, marked up by the next exchange that succeeds.
import type { Config } from '../../config/types.js';
import { redactUrl } from '../../net/credentials.js';
import { loadUpstreamTls } from '../../net/upstream-tls.js';
import type { Logger } from '../../observability/logger.js';
import { backoffDelay } from '../../process/backoff.js';
import { PeerClient, PeerError } from './peer-client.js';
import type { PeerState } from './peer-state.js';

type ReplicationConfig = Config['replication'];

/** What the push scheduler, the anti-entropy rounds and on-demand fetches see of the peers. */
export interface PeerTracker {
  readonly all: readonly PeerState[];
  /** Peers that answer right now. */
  up(): PeerState[];
  /** Every peer, those that answer first. */
  upFirst(): PeerState[];
  markUp(peer: PeerState): void;
  markDown(peer: PeerState): void;
  /** Marks the peer down when `err` says it did not answer (a refusal is an answer). */
  failed(peer: PeerState, err: unknown): void;
  probe(peer: PeerState): Promise<void>;
}

export class PeerSet implements PeerTracker {
  readonly all: readonly PeerState[];

  constructor(
    private readonly config: Pick<ReplicationConfig, 'peers' | 'ackTimeoutMs' | 'peerTimeoutMs' | 'retry'>,
    origin: string,
    private readonly logger: Logger,
  ) {
    this.all = config.peers.map((p, i) => {
      const client = new PeerClient({ url: p.url, username: p.username, password: p.password, origin, idleTimeoutMs: config.peerTimeoutMs, tls: loadUpstreamTls(p.url, p.tls, `replication.peers[${i}]`) });
      return {
        // The peer's key in logs, metrics and the queue files: never with its credentials.
        id: redactUrl(p.url).replace(/\/+$/, ''),
        client,
        ackClient: client.withIdleTimeout(config.ackTimeoutMs),
        down: false,
        probeFailures: 0,
        nextProbeAt: 0,
        busy: new Map(),
        missedLastAck: false,
      };
    });
  }

  up(): PeerState[] {
    return this.all.filter((p) => !p.down);
  }

  upFirst(): PeerState[] {
    return [...this.up(), ...this.all.filter((p) => p.down)];
  }

  markUp(peer: PeerState): void {
    if (peer.down) this.logger.info({ peer: peer.id }, 'replication peer is back');
    peer.down = false;
    peer.probeFailures = 0;
    peer.lastSuccessAt = Date.now();
  }

  markDown(peer: PeerState): void {
    if (!peer.down) this.logger.warn({ peer: peer.id }, 'replication peer is down');
    peer.down = true;
    peer.nextProbeAt = Date.now() + backoffDelay(peer.probeFailures + 1, this.config.retry);
  }

  failed(peer: PeerState, err: unknown): void {
    if (err instanceof PeerError && err.kind === 'unavailable') this.markDown(peer);
  }

  /** One probe of a peer that is down; a failure pushes the next one further out. */
  async probe(peer: PeerState): Promise<void> {
    peer.nextProbeAt = Number.POSITIVE_INFINITY;
    try {
      await peer.client.ping();
      this.markUp(peer);
    } catch {
      peer.probeFailures += 1;
      peer.nextProbeAt = Date.now() + backoffDelay(peer.probeFailures, this.config.retry);
    }
  }

  close(): void {
    for (const p of this.all) p.client.close();
  }
}
