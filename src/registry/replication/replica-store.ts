// What replication needs from the local registry storage, declared by the consumer (zot style):
// the registry adapts its image store to this, and tests can run replication against any
// implementation of it.
import type { Readable } from 'node:stream';
import type { Manifest } from '../../oci/manifest.js';

export interface StoredManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
  /** What `body` references, when the store has it parsed already (a manifest just pushed). */
  readonly parsed?: Manifest;
}

export interface ReplicaStore {
  /** Repositories, sorted. */
  repositories(): Promise<string[]>;
  /** Tags of a repository with the digest each points at. */
  tags(repo: string): Promise<Map<string, string>>;
  /** A manifest by tag or digest, or undefined. */
  getManifest(repo: string, reference: string): Promise<StoredManifest | undefined>;
  /** Manifests whose `subject` is `digest` (signatures, SBOMs, attestations), as digest and media type. */
  referrers(repo: string, digest: string): Promise<{ digest: string; mediaType: string }[]>;
  /** True when the repository may serve the blob. */
  hasBlob(repo: string, digest: string): Promise<boolean>;
  /** The blob's bytes; undefined when missing. */
  openBlob(repo: string, digest: string): Promise<{ stream: Readable; size: number } | undefined>;
  /**
   * Streams a blob in, verifies `digest` (and `size` when given) and commits it atomically;
   * rejects and keeps nothing on a mismatch.
   */
  putBlob(repo: string, digest: string, stream: Readable, size?: number): Promise<void>;
  /** Removes the repository's link to a blob (the bytes stay until gc). No error when absent. */
  unlinkBlob(repo: string, digest: string): Promise<void>;
  /** Links a blob whose bytes are still stored into the repository again; false when they are gone. */
  linkBlob(repo: string, digest: string): Promise<boolean>;
  /**
   * Stores a manifest (its references must be present) and points `reference` at it when it is a
   * tag. `digest` names it (verified by the caller); without one a tag's manifest is named by its sha256.
   */
  putManifest(repo: string, reference: string, body: Buffer, mediaType: string, digest?: string): Promise<string>;
  /**
   * Stores again a manifest deleted here whose bytes are still in the content store (they stay
   * until gc), under its digest with `mediaType` (unknown: the manifest's own field); false when
   * the bytes are gone.
   */
  restoreManifest(repo: string, digest: string, mediaType: string | undefined): Promise<boolean>;
  /** Deletes a tag, or a manifest by digest (with the tags that point at it). No error when absent. */
  deleteManifest(repo: string, reference: string): Promise<void>;
}
