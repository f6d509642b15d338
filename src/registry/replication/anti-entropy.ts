// One anti-entropy round with one peer, push direction: compare this replica's catalog, tags and
// digests, the referrers of tagged manifests (signatures, SBOMs: pushed by digest, with no tag to
// compare) and tombstones (of tags, manifests and blob links) with the peer's, and return the tasks that repair the peer. Each
// replica runs it towards every peer, so together they converge; the receiving side applies the
// convergence rule, so pushing a value the peer has already superseded is harmless.
// `antiEntropyRound` compares everything (repair); `changesRound` only what changed here since
// the peer's last round (steady state); round-plan.ts chooses between them.
import { blobLinkDigest } from './blob-links.js';
import type { ContentFilter } from './content-filter.js';
import { isDigest } from '../../oci/grammar.js';
import type { PeerClient } from './peer-client.js';
import type { ReplicaStore } from './replica-store.js';
import type { StampStore } from './stamp-store.js';
import type { Task } from './work-queue.js';

export interface AntiEntropyInput {
  store: ReplicaStore;
  peer: Pick<PeerClient, 'headManifest' | 'tags' | 'hasBlob'>;
  filter: ContentFilter;
  stamps: Pick<StampStore, 'get' | 'tombstones'>;
  tombstoneRetentionMs: number;
}

export interface LocalTag {
  repo: string;
  tag: string;
  digest: string;
  mediaType: string;
  time: number;
}

/** Pure: the repairs for one repository, given both sides' tag -> digest maps. */
export function diffTags(local: readonly LocalTag[], peerTags: ReadonlyMap<string, string | undefined>): Task[] {
  const tasks: Task[] = [];
  for (const t of local) {
    if (peerTags.get(t.tag) === t.digest) continue;
    tasks.push({ op: 'put', repo: t.repo, reference: t.tag, digest: t.digest, mediaType: t.mediaType, time: t.time });
  }
  return tasks;
}

/**
 * Referrers of `subjects`, and theirs in turn (a signature of an SBOM), that the peer lacks: put
 * by digest. Content-addressed, so time 0 (no tag whose value could compete).
 */
async function missingReferrers(repo: string, subjects: readonly string[], store: ReplicaStore, peer: AntiEntropyInput['peer']): Promise<Task[]> {
  const tasks: Task[] = [];
  const seen = new Set(subjects);
  const pending = [...seen];
  for (let subject = pending.shift(); subject !== undefined; subject = pending.shift()) {
    for (const referrer of await store.referrers(repo, subject)) {
      if (seen.has(referrer.digest)) continue;
      seen.add(referrer.digest);
      pending.push(referrer.digest);
      if (!(await peer.headManifest(repo, referrer.digest))) {
        tasks.push({ op: 'put', repo, reference: referrer.digest, digest: referrer.digest, mediaType: referrer.mediaType, time: 0 });
      }
    }
  }
  return tasks;
}

export async function antiEntropyRound(input: AntiEntropyInput): Promise<Task[]> {
  const { store, peer, filter, stamps } = input;
  const tasks: Task[] = [];
  for (const repo of await store.repositories()) {
    if (!filter.repository(repo)) continue;
    const localTags = await store.tags(repo);
    const local: LocalTag[] = [];
    for (const [tag, digest] of localTags) {
      if (!filter.tag(repo, tag)) continue;
      const manifest = await store.getManifest(repo, digest);
      if (!manifest) continue;
      const stamp = stamps.get(repo, tag);
      // A tag without a stamp predates replication: time 0 loses to any stamped write.
      local.push({ repo, tag, digest, mediaType: manifest.mediaType, time: stamp?.digest === digest ? stamp.time : 0 });
    }
    if (local.length === 0) continue;
    const remoteNames = new Set(await peer.tags(repo));
    const peerTags = new Map<string, string | undefined>();
    for (const t of local) {
      if (!remoteNames.has(t.tag)) continue;
      peerTags.set(t.tag, (await peer.headManifest(repo, t.tag))?.digest);
    }
    tasks.push(...diffTags(local, peerTags));
    tasks.push(...(await missingReferrers(repo, local.map((t) => t.digest), store, peer)));
  }
  for (const tomb of stamps.tombstones(input.tombstoneRetentionMs)) {
    if (!filter.repository(tomb.repo)) continue;
    if (await peerHolds(peer, tomb.repo, tomb.reference)) tasks.push({ op: 'delete', repo: tomb.repo, reference: tomb.reference, time: tomb.time });
  }
  return tasks;
}

/** Whether the peer still serves what a tombstone deleted: a blob link, a manifest or a tag. */
async function peerHolds(peer: AntiEntropyInput['peer'], repo: string, reference: string): Promise<boolean> {
  const blob = blobLinkDigest(reference);
  if (blob !== undefined) return peer.hasBlob(repo, blob);
  if (isDigest(reference)) return (await peer.headManifest(repo, reference)) !== undefined;
  return (await peer.tags(repo)).includes(reference);
}

/**
 * The round in steady state: only the references that changed here since the peer's last round
 * (change-journal.ts), each compared with the peer (one request or none), so its cost follows the
 * changes, not the number of tags. A tombstone is a change like a put.
 */
export async function changesRound(input: AntiEntropyInput, changes: readonly { repo: string; reference: string }[], now = Date.now()): Promise<Task[]> {
  const { store, peer, filter, stamps } = input;
  const tasks: Task[] = [];
  for (const { repo, reference } of changes) {
    const tagged = !isDigest(reference) && blobLinkDigest(reference) === undefined;
    if (!filter.repository(repo) || (tagged && !filter.tag(repo, reference))) continue;
    const stamp = stamps.get(repo, reference);
    if (stamp !== undefined && stamp.digest === undefined) {
      if (now - stamp.time > input.tombstoneRetentionMs) continue;
      if (await peerHolds(peer, repo, reference)) tasks.push({ op: 'delete', repo, reference, time: stamp.time });
      continue;
    }
    // A blob link that lives again travels with the manifests that use it.
    if (blobLinkDigest(reference) !== undefined) continue;
    const manifest = await store.getManifest(repo, reference);
    if (!manifest) continue;
    if ((await peer.headManifest(repo, reference))?.digest === manifest.digest) continue;
    const time = stamp?.digest === manifest.digest ? stamp.time : 0;
    tasks.push({ op: 'put', repo, reference, digest: manifest.digest, mediaType: manifest.mediaType, time });
  }
  return tasks;
}
