// Copies one manifest with everything it references from the local store to a peer, in the order
// that keeps the peer consistent: blobs first (skipping those it has), then child manifests, then
// the manifest itself. A peer answers the final PUT only once it holds the manifest durably.
import { blobLinkReference } from './blob-links.js';
import { readStoredManifest } from '../../oci/manifest.js';
import type { PeerClient } from './peer-client.js';
import type { ReplicaStore } from './replica-store.js';
import { incomingWins } from './tag-resolution.js';

/**
 * Blobs (and child manifests) of one manifest copied at once: a typical image has 5-20 layers,
 * and 4 streams fill a LAN link while leaving the peer's connections (PEER_MAX_SOCKETS) to the
 * other tasks copied beside this one.
 */
export const COPY_CONCURRENCY = 4;
/**
 * How deep manifests nest: an index over images is one level in practice (an index of indexes
 * two); the bound stops a malicious self-referencing chain.
 */
export const MAX_MANIFEST_DEPTH = 4;

export interface CopyStats {
  objects: number;
  bytes: number;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

export class MissingLocallyError extends Error {
  constructor(what: string) {
    super(`${what} is no longer in local storage`);
    this.name = 'MissingLocallyError';
  }
}

/**
 * Copies a blob the peer lacks. `time` is the write it belongs to (its manifest's, or the blob's
 * own commit): a peer that deleted the blob's link later than that keeps it deleted (the
 * convergence rule), so the bytes are not sent at all.
 */
export async function copyBlobToPeer(store: ReplicaStore, peer: PeerClient, repo: string, digest: string, time: number, stats: CopyStats): Promise<void> {
  const state = await peer.headBlob(repo, digest);
  if (state.present) return;
  if (state.deletedAt !== undefined && !incomingWins({ time: state.deletedAt }, { time, digest })) return;
  const blob = await store.openBlob(repo, digest);
  if (!blob) throw new MissingLocallyError(`blob ${repo}@${digest}`);
  await peer.putBlob(repo, digest, blob.size, blob.stream, time);
  stats.objects += 1;
  stats.bytes += blob.size;
}

/**
 * Copies `repo@digest` and puts it on the peer under `reference` (a tag or the digest itself).
 * `time` is the origin commit time carried for the convergence rule.
 */
export async function copyManifestToPeer(
  store: ReplicaStore,
  peer: PeerClient,
  repo: string,
  reference: string,
  digest: string,
  time: number,
  stats: CopyStats,
  /** Copies one blob; the replicator passes one that joins a copy already under way. */
  copyBlob: (digest: string) => Promise<void> = (d) => copyBlobToPeer(store, peer, repo, d, time, stats),
  depth = 0,
): Promise<void> {
  const manifest = await store.getManifest(repo, digest);
  if (!manifest) throw new MissingLocallyError(`manifest ${repo}@${digest}`);
  const refs = manifest.parsed ?? readStoredManifest(manifest.body, manifest.mediaType);
  await eachLimited(refs.blobs, COPY_CONCURRENCY, (b) => copyBlob(b.value));
  if (depth < MAX_MANIFEST_DEPTH) {
    await eachLimited(refs.children, COPY_CONCURRENCY, async (child) => {
      if (await peer.headManifest(repo, child.value)) return;
      await copyManifestToPeer(store, peer, repo, child.value, child.value, time, stats, copyBlob, depth + 1);
    });
  }
  // A push by tag names the manifest by its sha256 on the peer: a tag on a manifest under another
  // digest (sha512) goes by digest with `?tag=`, and by tag only to a peer that ignores the query.
  const byDigestWithTag = reference !== digest && !digest.startsWith('sha256:');
  if (!byDigestWithTag || !(await peer.putManifestWithTag(repo, digest, reference, manifest.body, manifest.mediaType, time))) {
    await peer.putManifest(repo, reference, manifest.body, manifest.mediaType, time);
  }
  stats.objects += 1;
  stats.bytes += manifest.body.length;
}

/**
 * The reverse direction, for on-demand fetches: pulls `repo@reference` with its references into
 * the store. `deletedHere` names what this replica holds a tombstone for (a manifest digest or a
 * blob link, blob-links.ts): a manifest that is, or needs, something deleted here is not fetched
 * (false), so a peer that has not heard of the delete yet cannot bring it back.
 */
export async function copyManifestFromPeer(
  store: ReplicaStore,
  peer: PeerClient,
  repo: string,
  reference: string,
  verify: (body: Buffer, expected: string | undefined) => string,
  deletedHere: (reference: string) => boolean,
  depth = 0,
): Promise<boolean> {
  const manifest = await peer.getManifest(repo, reference);
  if (!manifest) return false;
  const digest = verify(manifest.body, reference.includes(':') ? reference : manifest.digest);
  const refs = readStoredManifest(manifest.body, manifest.mediaType);
  const blobs = refs.blobs.map((b) => b.value);
  const children = refs.children.map((c) => c.value);
  if (deletedHere(digest) || children.some((m) => deletedHere(m)) || blobs.some((b) => deletedHere(blobLinkReference(b)))) return false;
  await eachLimited(blobs, COPY_CONCURRENCY, async (b) => {
    if (await store.hasBlob(repo, b)) return;
    const remote = await peer.getBlob(repo, b);
    if (!remote) throw new Error(`peer ${peer.url} lacks blob ${repo}@${b}`);
    await store.putBlob(repo, b, remote.stream, remote.size);
  });
  if (depth < MAX_MANIFEST_DEPTH) {
    for (const child of children) {
      if (await store.getManifest(repo, child)) continue;
      await copyManifestFromPeer(store, peer, repo, child, verify, deletedHere, depth + 1);
    }
  }
  await store.putManifest(repo, reference.includes(':') ? digest : reference, manifest.body, manifest.mediaType, digest);
  return true;
}
