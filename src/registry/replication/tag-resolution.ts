// The rule that makes concurrent writes converge on every replica.
//
// Every tag write and every delete carries the wall-clock time (ms) at which the replica that
// took it from a client committed it; replicated copies carry that original time unchanged.
// The write with the later time wins; equal times are broken by the greater digest (plain string
// order), and a delete beats a put at the same time. Each replica applies the rule to what it
// receives, so all replicas end with the same winner whatever order the copies arrive in.

export interface Stamp {
  /** ms since the epoch at the origin replica. */
  time: number;
  /** Digest the tag points at; undefined for a delete (tombstone). */
  digest?: string;
}

/** True when `incoming` must replace `current` (undefined current: nothing known, incoming wins). */
export function incomingWins(current: Stamp | undefined, incoming: Stamp): boolean {
  if (current === undefined) return true;
  if (incoming.time !== current.time) return incoming.time > current.time;
  if (incoming.digest === current.digest) return false;
  if (incoming.digest === undefined) return true;
  if (current.digest === undefined) return false;
  return incoming.digest > current.digest;
}

/**
 * What a peer's delete of a reference (a tag, manifest digest or blob link) does here, given the
 * stamp this replica holds: `record` its tombstone; `deleted-already` when a tombstone at the same
 * or a later time is here (the same delete delivered again: an ack copy that answered late and
 * its retry, or an anti-entropy repair queued while the ack copy was in flight); `write-wins` when
 * a write made here is newer, which the caller puts back. Telling the last two apart matters: a
 * repeated delete once counted as a lost one, and putting back "the newer write" re-linked the
 * deleted blob.
 */
export function replicatedDeleteOutcome(current: Stamp | undefined, time: number): 'record' | 'deleted-already' | 'write-wins' {
  if (incomingWins(current, { time })) return 'record';
  return current?.digest === undefined ? 'deleted-already' : 'write-wins';
}

/** What of a manifest PUT gets stored: the manifest (by digest), and which of its tags. */
export interface CopyScope {
  manifest: boolean;
  tags: string[];
}

/**
 * What of a peer's copy of a manifest (written at `incoming`) to store: not a manifest whose
 * digest was deleted here later (`deletedAt`, the tombstone's time), and not a tag whose stamp
 * here wins over the copy, so stale content never shows, even briefly.
 */
export function copyScope(incoming: Stamp, deletedAt: number | undefined, tags: readonly string[], tagStamp: (tag: string) => Stamp | undefined): CopyScope {
  if (deletedAt !== undefined && !incomingWins({ time: deletedAt }, incoming)) return { manifest: false, tags: [] };
  return { manifest: true, tags: tags.filter((tag) => incomingWins(tagStamp(tag), incoming)) };
}
