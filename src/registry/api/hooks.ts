// Seams for replication (src/registry/replication): the registry app is built with a
// `RegistryHooks`; the default is `noopHooks`, so a registry without replication pays nothing.
//
// Contract:
// - beforeManifestCommit(event): awaited before a manifest PUT stores anything; says what to
//   store. A replicated copy that lost to a delete (or a newer tag write) held here is left out,
//   and the handler answers 201 all the same: this replica already holds the winner, and the
//   sending peer's task is done. Content never appears here, even for an instant, after a delete.
// - afterBlobCommit(event): awaited after a blob is committed and linked, BEFORE the 201 is sent.
//   Keep it cheap (queue work); a rejection fails the upload response (the blob stays stored).
// - afterManifestCommit(event): awaited after the manifest, its revision, referrer entry and tag
//   are durable locally and BEFORE the 201 is sent. This is where a write concern (`ack: all`)
//   waits for peers. Reject with an OciError to fail the push with that code/status (e.g.
//   new OciError('UNAVAILABLE', 'replicas did not acknowledge')); any other error becomes 503
//   UNAVAILABLE. The local copy is kept either way (the client will retry the same bytes).
// - afterDelete(event): awaited after a local delete (manifest by digest, tag, or blob link)
//   and before the 202; writes the tombstone and waits for the write concern like a push. A
//   rejection behaves as above (the local delete stands either way). Also called, with
//   `missing`, before a DELETE that found nothing is answered 404.
// - deletedAt(repo, target): the time of the tombstone held for a tag, manifest digest or blob
//   link, if any. A GET/HEAD that finds nothing asks it first: a deleted object is answered 404
//   with that time in the replication DELETED_HEADER (the proxy then asks no other replica),
//   and no on-demand fetch is tried.
// - onMissingManifest(repo, reference) / onMissingBlob(repo, digest): called when a GET/HEAD
//   finds nothing locally. Resolve true after storing the content into the ImageStore (e.g.
//   fetched from a peer); the handler then reads it again locally. Resolve false to answer 404.
//   Merge identical concurrent calls on your side. Pass the request headers (third argument):
//   a request from a peer's replicator must not trigger a fetch back from that peer (two replicas
//   lacking the same object would otherwise ask each other in a circle). onMissingBlob's fourth
//   argument is 'manifest-put' when a manifest PUT lacks the blob: that push fails without it,
//   so replication asks harder (every peer, not only those it believes up).
// - replicationState(headers): the body of `GET /v2/_replication/state` (the replica's epoch for
//   its peers' anti-entropy, and its queue depth and lag per peer for the proxy's status page),
//   or undefined for a 404 (no replication, or not asked with the replication header).
//
// Each event carries the request headers so replication can recognise its own peer traffic
// (e.g. a header it sets when pushing to peers) and not replicate it back.
//
// run.ts builds them with `createReplicationHooks` (src/registry/replication/index.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import type { Registry } from 'prom-client';
import type { Digest } from '../../oci/digest.js';
import type { Manifest } from '../../oci/manifest.js';
import type { ReplicationStateBody } from '../../oci/replication-state.js';
import type { ImageStore } from '../storage/image-store.js';

export interface BlobCommitEvent {
  repo: string;
  digest: Digest;
  size: number;
  headers: IncomingHttpHeaders;
}

export interface ManifestCommitEvent {
  repo: string;
  /** The reference as pushed: a tag, or the digest string. */
  reference: string;
  /** Set when pushed by tag. */
  tag?: string;
  digest: Digest;
  mediaType: string;
  size: number;
  /** The exact pushed bytes. */
  bytes: Buffer;
  /**
   * The bytes as the PUT parsed them (what they reference, their subject). The store keeps this
   * parse with the manifest's cached record too, so a copy read back from it is not parsed again.
   */
  manifest: Manifest;
  headers: IncomingHttpHeaders;
}

export type DeleteEvent = (
  | { kind: 'manifest'; repo: string; digest: Digest; tags: string[]; headers: IncomingHttpHeaders }
  | { kind: 'tag'; repo: string; tag: string; headers: IncomingHttpHeaders }
  | { kind: 'blob'; repo: string; digest: Digest; headers: IncomingHttpHeaders }
) & {
  /**
   * Nothing was there to delete (the client gets 404). Still reported: a peer's delete of
   * something this replica has not received yet must leave a tombstone, or the late copy would
   * land after it.
   */
  missing?: true;
};

export type ManifestReference = { tag: string } | { digest: Digest };

/** Why a blob is looked for: a client reads it, or a manifest PUT references it. */
export type MissingBlobPurpose = 'read' | 'manifest-put';

/** What a tombstone can stand for: a tag, a manifest digest, or a repository's blob link. */
export type DeletedTarget = ManifestReference | { blob: Digest };

export interface ManifestWrite {
  repo: string;
  digest: Digest;
  /** The tags the PUT names (in the path, or `?tag=` on a push by digest). */
  tags: string[];
  headers: IncomingHttpHeaders;
}

/** What of a manifest PUT gets stored: the manifest (by digest), and which of its tags. */
export interface WriteScope {
  manifest: boolean;
  tags: string[];
}

export interface RegistryHooks {
  beforeManifestCommit(event: ManifestWrite): Promise<WriteScope>;
  afterBlobCommit(event: BlobCommitEvent): Promise<void>;
  afterManifestCommit(event: ManifestCommitEvent): Promise<void>;
  afterDelete(event: DeleteEvent): Promise<void>;
  onMissingManifest(repo: string, reference: ManifestReference, headers?: IncomingHttpHeaders): Promise<boolean>;
  onMissingBlob(repo: string, digest: Digest, headers?: IncomingHttpHeaders, purpose?: MissingBlobPurpose): Promise<boolean>;
  replicationState(headers: IncomingHttpHeaders): Promise<ReplicationStateBody | undefined>;
  deletedAt(repo: string, target: DeletedTarget): number | undefined;
  /** Called once on shutdown (flush queues, close connections). */
  close(): Promise<void>;
}

/** What replication gets to build its hooks from. */
export interface ReplicationContext {
  config: Config;
  store: ImageStore;
  logger: Logger;
  metrics: Registry;
}

const resolved = Promise.resolve();
const no = Promise.resolve(false);
const none = Promise.resolve(undefined);

export const noopHooks: RegistryHooks = {
  beforeManifestCommit: (e) => Promise.resolve({ manifest: true, tags: e.tags }),
  afterBlobCommit: () => resolved,
  afterManifestCommit: () => resolved,
  afterDelete: () => resolved,
  onMissingManifest: () => no,
  onMissingBlob: () => no,
  replicationState: () => none,
  deletedAt: () => undefined,
  close: () => resolved,
};

/** Fills in no-ops for the hooks an implementation leaves out. */
export function withDefaults(partial: Partial<RegistryHooks>): RegistryHooks {
  return { ...noopHooks, ...partial };
}
