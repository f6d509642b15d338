// Push-on-commit replication with a write concern, a durable retry queue, anti-entropy and
// on-demand fetches. The registry calls the hook methods; everything it needs from storage goes
// through ReplicaStore; peers are reached through their OCI API only.
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/types.js';
import { OciError } from '../../errors/oci-codes.js';
import { loadUpstreamTls } from '../../net/upstream-tls.js';
import type { Logger } from '../../observability/logger.js';
import { antiEntropyRound, changesRound } from './anti-entropy.js';
import { backoffDelay } from '../../process/backoff.js';
import { ChangeJournal } from './change-journal.js';
import { blobLinkDigest, blobLinkReference } from './blob-links.js';
import { compileContentFilter, type ContentFilter } from './content-filter.js';
import { copyBlobToPeer, copyManifestToPeer, MissingLocallyError, type CopyStats } from './copy-to-peer.js';
import { isDigest } from '../../oci/grammar.js';
import { PeerClient, PeerError } from './peer-client.js';
import { ackWait, missedAck, type PeerState } from './peer-state.js';
import type { ReplicaStore } from './replica-store.js';
import { replicationMark } from '../../oci/replication-headers.js';
import { loadOrCreateEpoch } from './replica-epoch.js';
import { ReplicationMetrics } from './replication-metrics.js';
import { planRound, type PeerCursor } from './round-plan.js';
import { OnDemandFetcher } from './on-demand.js';
import { KeyedMutex, SingleFlight } from './single-flight.js';
import { StampStore, type StampRecord } from './stamp-store.js';
import { incomingWins, replicatedDeleteOutcome } from './tag-resolution.js';
import { decideAck, type PeerOutcome } from './write-concern.js';
import { WorkQueue, type QueuedTask, type Task } from './work-queue.js';
import { redactUrl } from '../../net/credentials.js';

export type ReplicationConfig = Config['replication'];

export interface ReplicatorOptions {
  config: ReplicationConfig;
  store: ReplicaStore;
  /** `<storage>/_replication`. */
  stateDir: string;
  /** This replica's id, sent to peers (e.g. its listen address). */
  origin: string;
  logger: Logger;
  metrics: Registry;
}

export interface CommitEvent {
  repo: string;
  reference: string;
  digest: string;
  mediaType: string;
  headers: IncomingHttpHeaders;
}

export interface DeleteEvent {
  repo: string;
  /** A tag, a digest (the manifest, with the tags that pointed at it) or a blob link (blob-links.ts). */
  reference: string;
  /** Tags removed with a manifest deleted by digest. */
  tags?: string[];
  /** Nothing was there to delete: only a peer's delete counts (its tombstone stops a late copy). */
  missing?: boolean;
  headers: IncomingHttpHeaders;
}

/**
 * How long a task being copied synchronously (for an ack) is kept away from the background
 * queue. Only a crash or a copy stalled for longer releases it early; 10 minutes is far beyond
 * any ack a client waits for, and a restart resets it (the task reloads as due).
 */
const SYNC_HOLD_MS = 10 * 60 * 1000;
/** Background queue tick: 100 ms keeps `ack: one` lag low at negligible cost (a map scan per peer). */
const PUMP_INTERVAL_MS = 100;

export class Replicator {
  readonly peers: PeerState[];
  private readonly queue: WorkQueue;
  private readonly stamps: StampStore;
  private readonly filter: ContentFilter;
  private readonly metrics: ReplicationMetrics;
  private readonly tagLock = new KeyedMutex();
  private readonly onDemand: OnDemandFetcher;
  /** Blob copies under way, per peer, repository and digest: a manifest copy joins them. */
  private readonly blobCopies = new SingleFlight<void>();
  private pumpTimer?: NodeJS.Timeout;
  private entropyTimer?: NodeJS.Timeout;
  private entropyRunning = false;
  /** What changed here, so a round with a peer checks only that (see round-plan.ts). */
  private readonly journal = new ChangeJournal();
  private readonly cursors = new Map<string, PeerCursor>();
  private epoch = '';
  private stopped = false;

  constructor(private readonly options: ReplicatorOptions) {
    const { config } = options;
    this.queue = new WorkQueue(join(options.stateDir, 'queue'));
    this.stamps = new StampStore(join(options.stateDir, 'stamps'));
    this.filter = compileContentFilter(config.content);
    this.peers = config.peers.map((p, i) => ({
      // The peer's key in logs, metrics and the queue files: never with its credentials.
      id: redactUrl(p.url).replace(/\/+$/, ''),
      client: new PeerClient({ url: p.url, username: p.username, password: p.password, origin: options.origin, idleTimeoutMs: config.ackTimeoutMs, tls: loadUpstreamTls(p.url, p.tls, `replication.peers[${i}]`) }),
      down: false,
      probeFailures: 0,
      nextProbeAt: 0,
      busy: new Map(),
      missedLastAck: false,
    }));
    this.metrics = new ReplicationMetrics(
      options.metrics,
      () => this.peers.map((p) => ({ peer: p.id, depth: this.queue.depth(p.id), oldestEnqueuedAt: this.queue.oldestEnqueuedAt(p.id), lastSuccessAt: p.lastSuccessAt, up: !p.down })),
    );
    this.onDemand = new OnDemandFetcher({
      store: options.store,
      upPeers: () => this.peers.filter((p) => !p.down),
      allPeers: () => [...this.peers.filter((p) => !p.down), ...this.peers.filter((p) => p.down)],
      deletedHere: (repo, reference) => this.isTombstoned(repo, reference),
      failed: (peer, err) => {
        if (err instanceof PeerError && err.kind === 'unavailable') this.markDown(peer);
      },
      metrics: this.metrics,
      logger: options.logger,
    });
  }

  get enabled(): boolean {
    return this.peers.length > 0;
  }

  async start(): Promise<void> {
    await this.stamps.load(this.options.config.tombstoneRetentionMs);
    this.epoch = await loadOrCreateEpoch(this.options.stateDir);
    await this.queue.load(this.peers.map((p) => p.id));
    if (!this.enabled) return;
    this.pumpTimer = setInterval(() => this.pump(), PUMP_INTERVAL_MS);
    this.pumpTimer.unref();
    const interval = this.options.config.pollIntervalMs;
    if (interval > 0) {
      // A first round soon after start-up: a replica that was down catches up at once. One timer
      // field holds the first round, then the interval, so stop() always clears what is pending.
      this.entropyTimer = setTimeout(() => {
        this.entropyTimer = setInterval(() => void this.runAntiEntropy(), interval).unref();
        void this.runAntiEntropy();
      }, Math.min(1000, interval)).unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pumpTimer);
    clearInterval(this.entropyTimer);
    await this.queue.flush();
    for (const p of this.peers) p.client.close();
  }

  // ---- hooks called by the registry ----

  /**
   * A client committed a blob: start copying it to the peers now, without delaying the client,
   * so that by the time the manifest arrives (and an ack waits for the peers) the layers are
   * already there or on their way. A failure here is harmless: the manifest copy retries it.
   * A blob pushed again after its link was deleted lives again, here and (by its newer time) on
   * the peers; a peer's copy older than a delete made here is unlinked again.
   */
  async afterBlobCommit(event: { repo: string; digest: string; headers: IncomingHttpHeaders }): Promise<void> {
    const { repo, digest } = event;
    const reference = blobLinkReference(digest);
    const mark = replicationMark(event.headers);
    if (mark) {
      await this.settleOverTombstone(repo, reference, { digest, time: mark.time ?? 0 }, () => this.options.store.unlinkBlob(repo, digest));
      return;
    }
    const time = this.stamps.nextTime(repo, reference);
    if (this.isTombstoned(repo, reference)) await this.settleOverTombstone(repo, reference, { digest, time }, async () => {});
    if (!this.enabled || !this.filter.repository(repo)) return;
    for (const peer of this.peers) {
      if (peer.down) continue;
      this.copyBlob(peer, repo, digest, time).catch((err: unknown) => {
        this.options.logger.debug({ peer: peer.id, repo: event.repo, digest: event.digest, err: (err as Error).message }, 'early blob copy failed; the manifest copy retries it');
      });
    }
  }

  /** `time`: the write the copy belongs to (see copyBlobToPeer); a copy already under way is joined. */
  private copyBlob(peer: PeerState, repo: string, digest: string, time: number): Promise<void> {
    return this.blobCopies.run(`${peer.id}\n${repo}\n${digest}`, async () => {
      const stats: CopyStats = { objects: 0, bytes: 0 };
      try {
        await copyBlobToPeer(this.options.store, peer.client, repo, digest, time, stats);
      } finally {
        this.metrics.objects.inc({ peer: peer.id }, stats.objects);
        this.metrics.bytes.inc({ peer: peer.id }, stats.bytes);
      }
    });
  }

  /** Awaited before the manifest PUT is answered; throws OciError when the write concern fails. */
  async afterManifestCommit(event: CommitEvent): Promise<void> {
    try {
      await this.commitManifest(event);
    } finally {
      // After the stamps are written, so a round that sees the change reads its final stamp.
      this.journal.record(event.repo, event.reference);
    }
  }

  private async commitManifest(event: CommitEvent): Promise<void> {
    const mark = replicationMark(event.headers);
    const isTag = !isDigest(event.reference);
    if (mark) {
      const time = mark.time ?? 0;
      if (isTag) await this.applyReplicatedTag(event.repo, event.reference, { time, digest: event.digest });
      await this.settleOverTombstone(event.repo, event.digest, { digest: event.digest, time, mediaType: event.mediaType }, () => this.options.store.deleteManifest(event.repo, event.digest));
      return;
    }
    let time = Date.now();
    if (isTag) {
      await this.tagLock.run(`${event.repo}\n${event.reference}`, async () => {
        time = this.stamps.nextTime(event.repo, event.reference);
        await this.stamps.set({ repo: event.repo, reference: event.reference, digest: event.digest, time });
        await this.enforceTag(event.repo, event.reference, event.digest);
      });
    }
    // The manifest's own stamp, replacing any tombstone (pushed again after a delete by digest):
    // a peer's delete by digest older than this push loses to it (restoreAfterLostDelete).
    const manifestTime = await this.stampManifest(event.repo, event.digest, event.mediaType);
    if (!isTag) time = manifestTime;
    if (!this.enabled || !this.filter.repository(event.repo) || (isTag && !this.filter.tag(event.repo, event.reference))) return;
    await this.replicate({ op: 'put', repo: event.repo, reference: event.reference, digest: event.digest, mediaType: event.mediaType, time }, 'the manifest');
  }

  /** Records a client's push of a manifest under its digest; returns the push's time. */
  private stampManifest(repo: string, digest: string, mediaType: string): Promise<number> {
    return this.tagLock.run(`${repo}\n${digest}`, async () => {
      const time = this.stamps.nextTime(repo, digest);
      await this.stamps.set({ repo, reference: digest, digest, mediaType, time });
      return time;
    });
  }

  /**
   * Queues a client's write for every peer and, unless `ack` is `one`, copies it now and waits
   * until the write concern is met; throws OciError when it is not (the write stays queued).
   */
  private async replicate(task: Task, what: string): Promise<void> {
    const mode = this.options.config.ack;
    const hold = mode === 'one' ? 0 : SYNC_HOLD_MS;
    const queued = await Promise.all(this.peers.map((p) => this.queue.enqueue(p.id, task, Date.now(), hold)));
    if (mode === 'one') {
      this.pump();
      return;
    }
    const outcomes = await Promise.all(this.peers.map((p, i) => this.runForAck(p, queued[i])));
    const decision = decideAck(mode, outcomes, what);
    if (!decision.ok) throw new OciError(decision.code, decision.message);
  }

  /**
   * A peer's (or an older) write of `digest` under `reference` (a manifest digest or a blob link)
   * lands on a tombstone: a write newer than the delete lives and replaces the tombstone; an
   * older one is undone by `undo` (the peer learns of the delete from us).
   */
  private async settleOverTombstone(repo: string, reference: string, write: { digest: string; time: number; mediaType?: string }, undo: () => Promise<unknown>): Promise<void> {
    await this.tagLock.run(`${repo}\n${reference}`, async () => {
      if (!this.isTombstoned(repo, reference)) return;
      if (incomingWins(this.stamps.get(repo, reference), write)) {
        await this.stamps.set({ repo, reference, ...write });
        return;
      }
      this.options.logger.info({ repo, reference }, 'replicated write was deleted here later; deleting it again');
      await undo();
    });
  }

  async afterDelete(event: DeleteEvent): Promise<void> {
    try {
      await this.commitDelete(event);
    } finally {
      for (const reference of [event.reference, ...(event.tags ?? [])]) this.journal.record(event.repo, reference);
    }
  }

  private async commitDelete(event: DeleteEvent): Promise<void> {
    const mark = replicationMark(event.headers);
    if (event.missing && !mark) return;
    const time = mark ? (mark.time ?? Date.now()) : this.stamps.nextTime(event.repo, event.reference);
    for (const reference of [event.reference, ...(event.tags ?? [])]) {
      await this.tagLock.run(`${event.repo}\n${reference}`, async () => {
        const current = this.stamps.get(event.repo, reference);
        const outcome = mark ? replicatedDeleteOutcome(current, time) : 'record';
        if (outcome === 'record') {
          await this.stamps.set({ repo: event.repo, reference, time });
          return;
        }
        if (outcome === 'deleted-already') return;
        // A peer's delete older than a write made here: the write wins; put a deleted tag or blob link back.
        this.options.logger.info({ repo: event.repo, reference, kept: current?.digest }, 'replicated delete lost to a newer write');
        await this.restoreAfterLostDelete(event.repo, reference, current);
      });
    }
    if (mark || !this.enabled || !this.filter.repository(event.repo)) return;
    // The same write concern as a push: with `ack: all` or `majority` the client's 202 means the
    // peers hold the tombstone, so no replica serves the content again after it.
    await this.replicate({ op: 'delete', repo: event.repo, reference: event.reference, time }, 'the delete');
  }

  /**
   * Puts back what a peer's losing delete removed: a blob link, a manifest (by digest: before its
   * tags, which the same delete removed and which need it) or a tag.
   */
  private async restoreAfterLostDelete(repo: string, reference: string, winner: StampRecord | undefined): Promise<void> {
    const { store, logger } = this.options;
    const blob = blobLinkDigest(reference);
    if (blob !== undefined) {
      if (!(await store.linkBlob(repo, blob))) logger.warn({ repo, digest: blob }, 'blob link could not be restored: its bytes are gone (gc)');
      return;
    }
    if (!isDigest(reference)) {
      await this.enforceTag(repo, reference, winner?.digest);
      return;
    }
    if ((await store.getManifest(repo, reference)) !== undefined) return;
    if (!(await store.restoreManifest(repo, reference, winner?.mediaType))) {
      logger.warn({ repo, digest: reference }, 'manifest could not be restored: its bytes are gone (gc)');
    }
  }

  /** The time of the tombstone this replica holds for `reference` (a tag, digest or blob link), if any. */
  deletedAt(repo: string, reference: string): number | undefined {
    const stamp = this.stamps.get(repo, reference);
    return stamp !== undefined && stamp.digest === undefined ? stamp.time : undefined;
  }

  /**
   * What of a manifest PUT to store. A client's push: all of it. A peer's copy: not a manifest
   * deleted here later than the copy was written, and not a tag whose current value here (a
   * tombstone or a newer write) wins over it, so stale content never shows, even briefly.
   */
  manifestWriteScope(repo: string, digest: string, tags: string[], headers: IncomingHttpHeaders): { manifest: boolean; tags: string[] } {
    const mark = replicationMark(headers);
    if (!mark) return { manifest: true, tags };
    const incoming = { time: mark.time ?? 0, digest };
    const deleted = this.deletedAt(repo, digest);
    if (deleted !== undefined && !incomingWins({ time: deleted }, incoming)) return { manifest: false, tags: [] };
    return { manifest: true, tags: tags.filter((tag) => incomingWins(this.stamps.get(repo, tag), incoming)) };
  }

  /** Answers a peer's `GET /v2/_replication/state`; nothing for anyone else. */
  async replicationState(headers: IncomingHttpHeaders): Promise<{ epoch: string } | undefined> {
    return replicationMark(headers) === undefined ? undefined : { epoch: this.epoch };
  }

  /** A manifest the client asked for is missing: true when it was fetched from a peer and is now stored. */
  async fetchManifest(repo: string, reference: string, headers: IncomingHttpHeaders): Promise<boolean> {
    if (!this.onDemandAllowed(repo, headers)) return false;
    // Deleted here: a peer that has not heard of the delete yet must not bring it back.
    if (this.isTombstoned(repo, reference)) return false;
    return this.onDemand.manifest(repo, reference);
  }

  /** `everyPeer`: a manifest PUT that fails without the blob asks the peers believed down too. */
  async fetchBlob(repo: string, digest: string, headers: IncomingHttpHeaders, everyPeer = false): Promise<boolean> {
    // Deleted here (the link): a peer that still has the blob must not link it back.
    if (!this.onDemandAllowed(repo, headers) || this.isTombstoned(repo, blobLinkReference(digest))) return false;
    return this.onDemand.blob(repo, digest, everyPeer);
  }

  /** Never for a peer's own requests: two replicas lacking an object would ask each other in a circle. */
  private onDemandAllowed(repo: string, headers: IncomingHttpHeaders): boolean {
    return this.options.config.onDemand && this.enabled && replicationMark(headers) === undefined && this.filter.repository(repo);
  }

  // ---- convergence ----

  /** A tag copy from a peer: keep it only if it wins by the rule; otherwise restore the winner. */
  private async applyReplicatedTag(repo: string, tag: string, incoming: { time: number; digest: string }): Promise<void> {
    await this.tagLock.run(`${repo}\n${tag}`, async () => {
      const current = this.stamps.get(repo, tag);
      if (incomingWins(current, incoming)) {
        await this.stamps.set({ repo, reference: tag, ...incoming });
        await this.enforceTag(repo, tag, incoming.digest);
        return;
      }
      this.options.logger.info({ repo, tag, kept: current?.digest ?? 'deleted', refused: incoming.digest }, 'replicated tag lost to a newer write');
      await this.enforceTag(repo, tag, current?.digest);
    });
  }

  private isTombstoned(repo: string, reference: string): boolean {
    return this.deletedAt(repo, reference) !== undefined;
  }

  /** Makes the stored tag point at `digest` (or not exist), whatever order the writes hit storage in. */
  private async enforceTag(repo: string, tag: string, digest: string | undefined): Promise<void> {
    const { store } = this.options;
    const now = await store.getManifest(repo, tag);
    if (digest === undefined) {
      if (now) await store.deleteManifest(repo, tag);
      return;
    }
    if (now?.digest === digest) return;
    const winner = await store.getManifest(repo, digest);
    if (winner) await store.putManifest(repo, tag, winner.body, winner.mediaType, winner.digest);
  }

  // ---- copying ----

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
      this.queue.retryLater(queued, 0);
      result = { peer: peer.id, result: 'unavailable', reason: 'peer is down' };
    } else if (wait.withinMs === undefined) {
      result = await this.execute(peer, queued);
    } else {
      result = await withinMs(this.execute(peer, queued), wait.withinMs, {
        peer: peer.id,
        result: 'unavailable',
        reason: `missed its last ack and did not answer within ${wait.withinMs} ms`,
      });
    }
    peer.missedLastAck = missedAck(result.result);
    if (result.result === 'unavailable') this.dropFromAck(peer, result.reason);
    return result;
  }

  private dropFromAck(peer: PeerState, reason: string): void {
    this.metrics.ackDropped.inc({ peer: peer.id });
    this.options.logger.warn({ peer: peer.id, reason }, 'peer dropped from the ack set; anti-entropy and the queue will repair it');
  }

  /** Runs one queued task against its peer, completing it or scheduling a retry. */
  private async execute(peer: PeerState, queued: QueuedTask): Promise<PeerOutcome> {
    peer.busy.set(queued.key, queued);
    const stats: CopyStats = { objects: 0, bytes: 0 };
    try {
      const { task } = queued;
      if (task.op === 'put') {
        const copyBlob = (digest: string) => this.copyBlob(peer, task.repo, digest, task.time);
        await copyManifestToPeer(this.options.store, peer.client, task.repo, task.reference, task.digest, task.time, stats, copyBlob);
      } else if (this.stamps.get(task.repo, task.reference)?.digest === undefined) {
        const blob = blobLinkDigest(task.reference);
        if (blob !== undefined) await peer.client.deleteBlob(task.repo, blob, task.time);
        else await peer.client.deleteManifest(task.repo, task.reference, task.time);
      }
      // else: written again here since the delete was queued; the newer write reaches the peer by itself.
      await this.queue.complete(queued);
      this.markUp(peer);
      return { peer: peer.id, result: 'stored' };
    } catch (err) {
      if (err instanceof MissingLocallyError) {
        // Deleted or replaced locally since: a newer task (or tombstone) carries the truth now.
        await this.queue.complete(queued);
        return { peer: peer.id, result: 'stored' };
      }
      const kind = err instanceof PeerError ? err.kind : 'local';
      const reason = (err as Error).message;
      this.metrics.failures.inc({ peer: peer.id, kind });
      const retry = this.options.config.retry;
      this.queue.retryLater(queued, backoffDelay(queued.attempts + 1, retry));
      if (kind === 'unavailable') this.markDown(peer);
      this.options.logger.warn({ peer: peer.id, repo: queued.task.repo, reference: queued.task.reference, attempts: queued.attempts, err: reason }, 'replication attempt failed');
      return kind === 'refused' ? { peer: peer.id, result: 'refused', reason } : { peer: peer.id, result: 'unavailable', reason };
    } finally {
      // A synchronous copy of a replacement may have taken the key meanwhile: it releases it.
      if (peer.busy.get(queued.key) === queued) peer.busy.delete(queued.key);
      this.metrics.objects.inc({ peer: peer.id }, stats.objects);
      this.metrics.bytes.inc({ peer: peer.id }, stats.bytes);
    }
  }

  private markUp(peer: PeerState): void {
    if (peer.down) this.options.logger.info({ peer: peer.id }, 'replication peer is back');
    peer.down = false;
    peer.probeFailures = 0;
    peer.lastSuccessAt = Date.now();
  }

  private markDown(peer: PeerState): void {
    if (!peer.down) this.options.logger.warn({ peer: peer.id }, 'replication peer is down');
    peer.down = true;
    peer.nextProbeAt = Date.now() + backoffDelay(peer.probeFailures + 1, this.options.config.retry);
  }

  /** Background: copies due tasks, and probes peers that are down. */
  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const peer of this.peers) {
      if (peer.down) {
        if (now >= peer.nextProbeAt && peer.busy.size === 0) void this.probe(peer);
        continue;
      }
      const free = this.options.config.concurrency - peer.busy.size;
      if (free <= 0) continue;
      for (const queued of this.queue.due(peer.id, now, free, peer.busy)) {
        this.execute(peer, queued).catch((err: unknown) => {
          // Only local bookkeeping (the queue file) can fail here; the task stays queued.
          this.options.logger.error({ peer: peer.id, err: (err as Error).message }, 'replication queue error');
        });
      }
    }
  }

  private async probe(peer: PeerState): Promise<void> {
    peer.nextProbeAt = Number.POSITIVE_INFINITY;
    try {
      await peer.client.ping();
      this.markUp(peer);
    } catch {
      peer.probeFailures += 1;
      peer.nextProbeAt = Date.now() + backoffDelay(peer.probeFailures, this.options.config.retry);
    }
  }

  /** One anti-entropy round with every peer that answers; enqueues what each lacks. */
  async runAntiEntropy(): Promise<void> {
    if (this.entropyRunning || this.stopped) return;
    this.entropyRunning = true;
    try {
      for (const peer of this.peers) {
        if (peer.down) continue;
        try {
          await this.syncPeer(peer);
          peer.lastSuccessAt = Date.now();
        } catch (err) {
          this.metrics.failures.inc({ peer: peer.id, kind: 'anti_entropy' });
          if (err instanceof PeerError && err.kind === 'unavailable') this.markDown(peer);
          this.options.logger.warn({ peer: peer.id, err: (err as Error).message }, 'anti-entropy round failed');
        }
      }
      // Changes every peer has been checked for are no longer needed (a peer without a valid
      // cursor gets a full comparison next, which needs none).
      const seqs = [...this.cursors.values()].filter((c) => c.journalGeneration === this.journal.generation).map((c) => c.seq);
      this.journal.compact(seqs.length > 0 ? Math.min(...seqs) : this.journal.seq);
    } finally {
      this.entropyRunning = false;
    }
  }

  /** A full comparison or the changes since the peer's last round (round-plan.ts decides). */
  private async syncPeer(peer: PeerState): Promise<void> {
    const journalGeneration = this.journal.generation;
    const seq = this.journal.seq;
    const now = Date.now();
    const peerEpoch = await peer.client.replicationEpoch();
    const cursor = this.cursors.get(peer.id);
    const kind = planRound({ cursor, peerEpoch, journalGeneration, now, fullIntervalMs: this.options.config.fullCompareIntervalMs });
    const input = { store: this.options.store, peer: peer.client, filter: this.filter, stamps: this.stamps, tombstoneRetentionMs: this.options.config.tombstoneRetentionMs };
    const tasks = kind === 'full' ? await antiEntropyRound(input) : await changesRound(input, this.journal.since(cursor!.seq));
    for (const task of tasks) await this.queue.enqueue(peer.id, task);
    if (tasks.length > 0) this.options.logger.info({ peer: peer.id, round: kind, repairs: tasks.length }, 'anti-entropy queued repairs');
    this.metrics.entropyRounds.inc({ peer: peer.id, kind });
    // A peer that cannot name an epoch keeps no cursor: every round with it is a full one.
    if (peerEpoch === undefined) this.cursors.delete(peer.id);
    else this.cursors.set(peer.id, { peerEpoch, journalGeneration, seq, fullAt: kind === 'full' ? now : cursor!.fullAt });
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
