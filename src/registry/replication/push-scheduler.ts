// Push scheduling: every write a client made here is queued durably for each peer, copied now
// for an ack when the write concern asks for one, and otherwise (and after a failure) by the
// background queue, which also probes the peers that are down.
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import { backoffDelay } from '../../process/backoff.js';
import type { DeleteCheck } from './convergence.js';
import { blobLinkDigest } from './blob-links.js';
import { copyBlobToPeer, copyManifestToPeer, MissingLocallyError, type CopyStats } from './copy-to-peer.js';
import { PeerError, type PeerClient } from './peer-client.js';
import type { PeerTracker } from './peer-set.js';
import { ackWait, missedAck, pumpAction, type PeerState } from './peer-state.js';
import type { ReplicaStore } from './replica-store.js';
import type { ReplicationMetrics } from './replication-metrics.js';
import { SingleFlight } from './single-flight.js';
import { decideAck, type AckDecision, type PeerOutcome } from './write-concern.js';
import type { QueuedTask, Task, WorkQueue } from './work-queue.js';

/**
 * How long a task being copied synchronously (for an ack) is kept away from the background
 * queue. Only a crash or a copy stalled for longer releases it early; 10 minutes is far beyond
 * any ack a client waits for, and a restart resets it (the task reloads as due).
 */
const SYNC_HOLD_MS = 10 * 60 * 1000;
/** Background queue tick: 100 ms keeps `ack: one` lag low at negligible cost (a map scan per peer). */
const PUMP_INTERVAL_MS = 100;

export interface PushSchedulerOptions {
  config: Pick<Config['replication'], 'ack' | 'ackTimeoutMs' | 'concurrency' | 'retry'>;
  store: ReplicaStore;
  queue: WorkQueue;
  peers: PeerTracker;
  deletes: DeleteCheck;
  metrics: ReplicationMetrics;
  logger: Logger;
}

export class PushScheduler {
  /** Blob copies under way, per peer, repository and digest: a manifest copy joins them. */
  private readonly blobCopies = new SingleFlight<void>();
  private pumpTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly options: PushSchedulerOptions) {}

  start(): void {
    this.pumpTimer = setInterval(() => this.pump(), PUMP_INTERVAL_MS);
    this.pumpTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pumpTimer);
    await this.options.queue.flush();
  }

  /**
   * Queues a client's write for every peer and, unless `ack` is `one`, copies it now and waits
   * until the write concern is decided (the write stays queued for the peers that lack it).
   */
  async replicate(task: Task, what: string): Promise<AckDecision> {
    const { config, queue, peers } = this.options;
    const hold = config.ack === 'one' ? 0 : SYNC_HOLD_MS;
    const queued = await Promise.all(peers.all.map((p) => queue.enqueue(p.id, task, Date.now(), hold)));
    if (config.ack === 'one') {
      this.pump();
      return { ok: true, holders: 1 };
    }
    const outcomes = await Promise.all(peers.all.map((p, i) => this.runForAck(p, queued[i])));
    return decideAck(config.ack, outcomes, what);
  }

  /**
   * A blob a client committed, copied to the peers that answer without delaying the client, so
   * the layers are there (or on their way) when the manifest's ack waits. A failure is harmless:
   * the manifest copy retries it.
   */
  copyBlobEarly(repo: string, digest: string, time: number): void {
    for (const peer of this.options.peers.up()) {
      this.copyBlob(peer, peer.ackClient, repo, digest, time).catch((err: unknown) => {
        this.options.logger.debug({ peer: peer.id, repo, digest, err: (err as Error).message }, 'early blob copy failed; the manifest copy retries it');
      });
    }
  }

  /** `time`: the write the copy belongs to (see copyBlobToPeer); a copy already under way is joined. */
  private copyBlob(peer: PeerState, client: PeerClient, repo: string, digest: string, time: number): Promise<void> {
    return this.blobCopies.run(`${peer.id}\n${repo}\n${digest}`, async () => {
      const stats: CopyStats = { objects: 0, bytes: 0 };
      try {
        await copyBlobToPeer(this.options.store, client, repo, digest, time, stats);
      } finally {
        this.countCopied(peer, stats);
      }
    });
  }

  private countCopied(peer: PeerState, stats: CopyStats): void {
    this.options.metrics.objects.inc({ peer: peer.id }, stats.objects);
    this.options.metrics.bytes.inc({ peer: peer.id }, stats.bytes);
  }

  /**
   * The copy to one peer for an ack. A down peer is not waited on (it used to be probed inline,
   * which cost a push up to ackTimeoutMs each time the probe was due on a frozen peer); the pump
   * probes it in the background and it rejoins once a probe answers. A peer that missed its last
   * ack is waited on briefly only; the copy itself goes on and completes the task if it can.
   */
  private async runForAck(peer: PeerState, queued: QueuedTask): Promise<PeerOutcome> {
    const wait = ackWait(peer, this.options.config.ackTimeoutMs);
    let result: PeerOutcome;
    if (wait.skip) {
      this.options.queue.retryLater(queued, 0);
      result = { peer: peer.id, result: 'unavailable', reason: 'peer is down' };
    } else if (wait.withinMs === undefined) {
      result = await this.execute(peer, queued, peer.ackClient);
    } else {
      result = await withinMs(this.execute(peer, queued, peer.ackClient), wait.withinMs, {
        peer: peer.id,
        result: 'unavailable',
        reason: `missed its last ack and did not answer within ${wait.withinMs} ms`,
      });
    }
    peer.missedLastAck = missedAck(result.result);
    if (result.result === 'unavailable') {
      this.options.metrics.ackDropped.inc({ peer: peer.id });
      this.options.logger.warn({ peer: peer.id, reason: result.reason }, 'peer dropped from the ack set; anti-entropy and the queue will repair it');
    }
    return result;
  }

  /** Runs one queued task against its peer, completing it or scheduling a retry. */
  private async execute(peer: PeerState, queued: QueuedTask, client: PeerClient): Promise<PeerOutcome> {
    const { queue } = this.options;
    peer.busy.set(queued.key, queued);
    const stats: CopyStats = { objects: 0, bytes: 0 };
    try {
      await this.send(peer, client, queued.task, stats);
      await queue.complete(queued);
      this.options.peers.markUp(peer);
      return { peer: peer.id, result: 'stored' };
    } catch (err) {
      if (err instanceof MissingLocallyError) {
        // Deleted or replaced locally since: a newer task (or tombstone) carries the truth now.
        await queue.complete(queued);
        return { peer: peer.id, result: 'stored' };
      }
      return this.failed(peer, queued, err);
    } finally {
      // A synchronous copy of a replacement may have taken the key meanwhile: it releases it.
      if (peer.busy.get(queued.key) === queued) peer.busy.delete(queued.key);
      this.countCopied(peer, stats);
    }
  }

  private async send(peer: PeerState, client: PeerClient, task: Task, stats: CopyStats): Promise<void> {
    if (task.op === 'put') {
      const copyBlob = (digest: string) => this.copyBlob(peer, client, task.repo, digest, task.time);
      await copyManifestToPeer(this.options.store, client, task.repo, task.reference, task.digest, task.time, stats, copyBlob);
      return;
    }
    // Written again here since the delete was queued: the newer write reaches the peer by itself.
    if (!this.options.deletes.deleteStands(task.repo, task.reference)) return;
    const blob = blobLinkDigest(task.reference);
    if (blob !== undefined) await client.deleteBlob(task.repo, blob, task.time);
    else await client.deleteManifest(task.repo, task.reference, task.time);
  }

  private failed(peer: PeerState, queued: QueuedTask, err: unknown): PeerOutcome {
    const kind = err instanceof PeerError ? err.kind : 'local';
    const reason = (err as Error).message;
    this.options.metrics.failures.inc({ peer: peer.id, kind });
    this.options.queue.retryLater(queued, backoffDelay(queued.attempts + 1, this.options.config.retry));
    if (kind === 'unavailable') this.options.peers.markDown(peer);
    this.options.logger.warn({ peer: peer.id, repo: queued.task.repo, reference: queued.task.reference, attempts: queued.attempts, err: reason }, 'replication attempt failed');
    return kind === 'refused' ? { peer: peer.id, result: 'refused', reason } : { peer: peer.id, result: 'unavailable', reason };
  }

  /** Background: copies due tasks, and probes peers that are down. */
  private pump(): void {
    if (this.stopped) return;
    const { peers, queue, config, logger } = this.options;
    const now = Date.now();
    for (const peer of peers.all) {
      const action = pumpAction(peer, peer.busy.size, config.concurrency, now);
      if (action.kind === 'probe') void peers.probe(peer);
      if (action.kind !== 'copy') continue;
      for (const queued of queue.due(peer.id, now, action.free, peer.busy)) {
        this.execute(peer, queued, peer.client).catch((err: unknown) => {
          // Only local bookkeeping (the queue file) can fail here; the task stays queued.
          logger.error({ peer: peer.id, err: (err as Error).message }, 'replication queue error');
        });
      }
    }
  }
}

/** `promise`'s value if it settles within `ms`, else `late` (the promise runs on regardless). */
async function withinMs<T>(promise: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
