// Push-on-commit replication with a write concern, a durable retry queue, anti-entropy and
// on-demand fetches: the facade the registry's hooks call (index.ts). It tells a client's write
// from a peer's copy and hands each to its part: Convergence (stamps, the convergence rule),
// PeerSet (which peers answer), PushScheduler (queue, acks, background copies), EntropyScheduler
// (anti-entropy rounds) and OnDemandFetcher. Storage is reached through ReplicaStore only;
// peers through their OCI API only.
import type { IncomingHttpHeaders } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/types.js';
import { OciError } from '../../errors/oci-codes.js';
import type { StorageDriver } from '../storage/driver.js';
import type { Logger } from '../../observability/logger.js';
import { isDigest } from '../../oci/grammar.js';
import { replicationMark } from '../../oci/replication-headers.js';
import { blobLinkReference } from './blob-links.js';
import { compileContentFilter, type ContentFilter } from './content-filter.js';
import { Convergence } from './convergence.js';
import { EntropyScheduler } from './entropy-scheduler.js';
import type { ReplicationStateBody } from '../../oci/replication-state.js';
import { OnDemandFetcher } from './on-demand.js';
import { PeerSet } from './peer-set.js';
import { PushScheduler } from './push-scheduler.js';
import { loadOrCreateEpoch } from './replica-epoch.js';
import type { ReplicaStore } from './replica-store.js';
import { ReplicationMetrics } from './replication-metrics.js';
import { StampStore } from './stamp-store.js';
import type { CopyScope } from './tag-resolution.js';
import { WorkQueue, type Task } from './work-queue.js';

export type ReplicationConfig = Config['replication'];

export interface ReplicatorOptions {
  config: ReplicationConfig;
  store: ReplicaStore;
  /** The registry's storage: replication keeps its own records under `_replication/` in it (paths.ts). */
  driver: StorageDriver;
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

export class Replicator {
  private readonly peers: PeerSet;
  private readonly queue: WorkQueue;
  private readonly stamps: StampStore;
  private readonly filter: ContentFilter;
  private readonly convergence: Convergence;
  private readonly pushes: PushScheduler;
  private readonly entropy: EntropyScheduler;
  private readonly onDemand: OnDemandFetcher;
  /** Its per-peer figures also answer GET /v2/_replication/state (the proxy's status page). */
  private readonly metrics: ReplicationMetrics;
  private epoch = '';

  constructor(private readonly options: ReplicatorOptions) {
    const { config, store, logger } = options;
    this.queue = new WorkQueue(options.driver);
    this.stamps = new StampStore(options.driver);
    this.filter = compileContentFilter(config.content);
    this.peers = new PeerSet(config, options.origin, logger);
    const metrics = new ReplicationMetrics(
      options.metrics,
      () => this.peers.all.map((p) => ({ peer: p.id, depth: this.queue.depth(p.id), oldestEnqueuedAt: this.queue.oldestEnqueuedAt(p.id), lastSuccessAt: p.lastSuccessAt, up: !p.down })),
    );
    this.metrics = metrics;
    this.convergence = new Convergence(store, this.stamps, logger);
    this.pushes = new PushScheduler({ config, store, queue: this.queue, peers: this.peers, deletes: this.convergence, metrics, logger });
    this.entropy = new EntropyScheduler({ config, store, filter: this.filter, stamps: this.stamps, peers: this.peers, enqueue: (peer, task) => this.queue.enqueue(peer, task), metrics, logger });
    this.onDemand = new OnDemandFetcher({
      store,
      upPeers: () => this.peers.up(),
      allPeers: () => this.peers.upFirst(),
      deletedHere: (repo, reference) => this.convergence.isDeleted(repo, reference),
      failed: (peer, err) => this.peers.failed(peer, err),
      metrics,
      logger,
    });
  }

  get enabled(): boolean {
    return this.peers.all.length > 0;
  }

  async start(): Promise<void> {
    await this.stamps.load(this.options.config.tombstoneRetentionMs);
    this.epoch = await loadOrCreateEpoch(this.options.driver);
    await this.queue.load(this.peers.all.map((p) => p.id));
    if (!this.enabled) return;
    this.pushes.start();
    this.entropy.start();
  }

  async stop(): Promise<void> {
    this.entropy.stop();
    await this.pushes.stop();
    this.peers.close();
  }

  /** Whether a client's write to `repo` (and `tag`) goes to the peers. */
  private replicates(repo: string, tag?: string): boolean {
    return this.enabled && this.filter.repository(repo) && (tag === undefined || this.filter.tag(repo, tag));
  }

  /**
   * A blob committed: a client's is copied to the peers at once (see PushScheduler.copyBlobEarly).
   * A blob pushed again after its link was deleted lives again, here and (by its newer time) on
   * the peers; a peer's copy older than a delete made here is unlinked again.
   */
  async afterBlobCommit(event: { repo: string; digest: string; headers: IncomingHttpHeaders }): Promise<void> {
    const { repo, digest } = event;
    const reference = blobLinkReference(digest);
    const mark = replicationMark(event.headers);
    if (mark) {
      await this.convergence.peerBlob(repo, reference, digest, mark.time ?? 0);
      return;
    }
    const time = await this.convergence.localBlob(repo, reference, digest);
    if (this.replicates(repo)) this.pushes.copyBlobEarly(repo, digest, time);
  }

  /** Awaited before the manifest PUT is answered; throws OciError when the write concern fails. */
  async afterManifestCommit(event: CommitEvent): Promise<void> {
    try {
      await this.commitManifest(event);
    } finally {
      // After the stamps are written, so a round that sees the change reads its final stamp.
      this.entropy.record(event.repo, event.reference);
    }
  }

  private async commitManifest(event: CommitEvent): Promise<void> {
    const { repo, reference, digest, mediaType } = event;
    const mark = replicationMark(event.headers);
    const tag = isDigest(reference) ? undefined : reference;
    if (mark) {
      const time = mark.time ?? 0;
      if (tag !== undefined) await this.convergence.peerTag(repo, tag, { time, digest });
      await this.convergence.peerManifest(repo, digest, mediaType, time);
      return;
    }
    const tagTime = tag === undefined ? undefined : await this.convergence.localTag(repo, tag, digest);
    const manifestTime = await this.convergence.localManifest(repo, digest, mediaType);
    if (!this.replicates(repo, tag)) return;
    await this.replicate({ op: 'put', repo, reference, digest, mediaType, time: tagTime ?? manifestTime }, 'the manifest');
  }

  /** Queues a client's write for the peers and waits for the write concern; OciError when it fails. */
  private async replicate(task: Task, what: string): Promise<void> {
    const decision = await this.pushes.replicate(task, what);
    if (!decision.ok) throw new OciError(decision.code, decision.message);
  }

  async afterDelete(event: DeleteEvent): Promise<void> {
    const references = [event.reference, ...(event.tags ?? [])];
    try {
      await this.commitDelete(event, references);
    } finally {
      for (const reference of references) this.entropy.record(event.repo, reference);
    }
  }

  private async commitDelete(event: DeleteEvent, references: string[]): Promise<void> {
    const mark = replicationMark(event.headers);
    if (mark) {
      await this.convergence.peerDelete(event.repo, references, mark.time ?? Date.now());
      return;
    }
    if (event.missing) return;
    const time = await this.convergence.localDelete(event.repo, references);
    if (!this.replicates(event.repo)) return;
    // The same write concern as a push: with `ack: all` or `majority` the client's 202 means the
    // peers hold the tombstone, so no replica serves the content again after it.
    await this.replicate({ op: 'delete', repo: event.repo, reference: event.reference, time }, 'the delete');
  }

  /** The time of the tombstone this replica holds for `reference` (a tag, digest or blob link), if any. */
  deletedAt(repo: string, reference: string): number | undefined {
    return this.convergence.deletedAt(repo, reference);
  }

  /**
   * What of a manifest PUT to store. A client's push: all of it. A peer's copy: what wins over
   * what is held here (tag-resolution.ts copyScope), so stale content never shows, even briefly.
   */
  manifestWriteScope(repo: string, digest: string, tags: string[], headers: IncomingHttpHeaders): CopyScope {
    const mark = replicationMark(headers);
    return mark ? this.convergence.copyScope(repo, digest, tags, mark.time ?? 0) : { manifest: true, tags };
  }

  /** Answers `GET /v2/_replication/state` from a peer or the proxy (REPLICATION_HEADER); nothing for anyone else. */
  async replicationState(headers: IncomingHttpHeaders): Promise<ReplicationStateBody | undefined> {
    return replicationMark(headers) === undefined ? undefined : { epoch: this.epoch, peers: this.metrics.peerStatus() };
  }

  /** A manifest the client asked for is missing: true when it was fetched from a peer and is now stored. */
  async fetchManifest(repo: string, reference: string, headers: IncomingHttpHeaders): Promise<boolean> {
    // Deleted here: a peer that has not heard of the delete yet must not bring it back.
    if (!this.onDemandAllowed(repo, headers) || this.convergence.isDeleted(repo, reference)) return false;
    return this.onDemand.manifest(repo, reference);
  }

  /** `everyPeer`: a manifest PUT that fails without the blob asks the peers believed down too. */
  async fetchBlob(repo: string, digest: string, headers: IncomingHttpHeaders, everyPeer = false): Promise<boolean> {
    // Deleted here (the link): a peer that still has the blob must not link it back.
    if (!this.onDemandAllowed(repo, headers) || this.convergence.isDeleted(repo, blobLinkReference(digest))) return false;
    return this.onDemand.blob(repo, digest, everyPeer);
  }

  /** Never for a peer's own requests: two replicas lacking an object would ask each other in a circle. */
  private onDemandAllowed(repo: string, headers: IncomingHttpHeaders): boolean {
    return this.options.config.onDemand && this.replicates(repo) && replicationMark(headers) === undefined;
  }

  /** One anti-entropy round now (tests; the scheduler runs them every pollIntervalMs). */
  runAntiEntropy(): Promise<void> {
    return this.entropy.runRound();
  }
}
