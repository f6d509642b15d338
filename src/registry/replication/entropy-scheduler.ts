// Anti-entropy scheduling: every `pollIntervalMs` a round with each peer that answers, a full
// comparison or only what changed here since that peer's last round (round-plan.ts decides);
// what the peer lacks is queued like any write (anti-entropy.ts finds it).
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import { antiEntropyRound, changesRound, type AntiEntropyInput } from './anti-entropy.js';
import { ChangeJournal } from './change-journal.js';
import type { ContentFilter } from './content-filter.js';
import type { PeerTracker } from './peer-set.js';
import type { PeerState } from './peer-state.js';
import type { ReplicaStore } from './replica-store.js';
import type { ReplicationMetrics } from './replication-metrics.js';
import { planRound, type PeerCursor } from './round-plan.js';
import type { Task } from './work-queue.js';

export interface EntropySchedulerOptions {
  config: Pick<Config['replication'], 'pollIntervalMs' | 'fullCompareIntervalMs' | 'tombstoneRetentionMs'>;
  store: ReplicaStore;
  filter: ContentFilter;
  stamps: AntiEntropyInput['stamps'];
  peers: PeerTracker;
  /** Queues a repair for a peer. */
  enqueue: (peer: string, task: Task) => Promise<unknown>;
  metrics: ReplicationMetrics;
  logger: Logger;
}

export class EntropyScheduler {
  /** What changed here, so a round with a peer checks only that (see round-plan.ts). */
  private readonly journal = new ChangeJournal();
  private readonly cursors = new Map<string, PeerCursor>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(private readonly options: EntropySchedulerOptions) {}

  start(): void {
    const interval = this.options.config.pollIntervalMs;
    if (interval <= 0) return;
    // A first round soon after start-up: a replica that was down catches up at once. One timer
    // field holds the first round, then the interval, so stop() always clears what is pending.
    this.timer = setTimeout(() => {
      this.timer = setInterval(() => void this.runRound(), interval).unref();
      void this.runRound();
    }, Math.min(1000, interval)).unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
  }

  /** A change here (after its stamp is written, so a round that sees it reads its final stamp). */
  record(repo: string, reference: string): void {
    this.journal.record(repo, reference);
  }

  /** One round with every peer that answers; queues what each lacks. */
  async runRound(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    const { peers, metrics, logger } = this.options;
    try {
      for (const peer of peers.all) {
        // Checked peer by peer: one marked down during the round is skipped.
        if (peer.down) continue;
        try {
          await this.syncPeer(peer);
          peer.lastSuccessAt = Date.now();
        } catch (err) {
          metrics.failures.inc({ peer: peer.id, kind: 'anti_entropy' });
          peers.failed(peer, err);
          logger.warn({ peer: peer.id, err: (err as Error).message }, 'anti-entropy round failed');
        }
      }
      // Changes every peer has been checked for are no longer needed (a peer without a valid
      // cursor gets a full comparison next, which needs none).
      const seqs = [...this.cursors.values()].filter((c) => c.journalGeneration === this.journal.generation).map((c) => c.seq);
      this.journal.compact(seqs.length > 0 ? Math.min(...seqs) : this.journal.seq);
    } finally {
      this.running = false;
    }
  }

  /** A full comparison or the changes since the peer's last round (round-plan.ts decides). */
  private async syncPeer(peer: PeerState): Promise<void> {
    const { config, store, filter, stamps, logger, metrics } = this.options;
    const journalGeneration = this.journal.generation;
    const seq = this.journal.seq;
    const now = Date.now();
    const peerEpoch = await peer.client.replicationEpoch();
    const cursor = this.cursors.get(peer.id);
    const kind = planRound({ cursor, peerEpoch, journalGeneration, now, fullIntervalMs: config.fullCompareIntervalMs });
    const input = { store, peer: peer.client, filter, stamps, tombstoneRetentionMs: config.tombstoneRetentionMs };
    const tasks = kind === 'full' ? await antiEntropyRound(input) : await changesRound(input, this.journal.since(cursor!.seq));
    for (const task of tasks) await this.options.enqueue(peer.id, task);
    if (tasks.length > 0) logger.info({ peer: peer.id, round: kind, repairs: tasks.length }, 'anti-entropy queued repairs');
    metrics.entropyRounds.inc({ peer: peer.id, kind });
    // A peer that cannot name an epoch keeps no cursor: every round with it is a full one.
    if (peerEpoch === undefined) this.cursors.delete(peer.id);
    else this.cursors.set(peer.id, { peerEpoch, journalGeneration, seq, fullAt: kind === 'full' ? now : cursor!.fullAt });
  }
}
