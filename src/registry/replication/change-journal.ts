// The changes this replica's state went through (tag writes, manifests stored, deletes and so
// tombstones), each under a sequence number, so that an anti-entropy round can check with a peer
// only what changed since the last round that peer completed, instead of every tag. In memory:
// after a restart the first round with each peer is a full comparison, which needs no journal.
export interface Change {
  repo: string;
  reference: string;
  seq: number;
}

/**
 * Distinct keys kept at most; past it the journal is cleared and every peer's next round is a
 * full comparison (a peer unreachable for long enough costs what it cost before the journal).
 */
export const MAX_JOURNAL_KEYS = 100_000;

export class ChangeJournal {
  private readonly changes = new Map<string, Change>();
  private last = 0;
  private cleared = 0;

  constructor(private readonly maxKeys = MAX_JOURNAL_KEYS) {}

  /** The sequence number of the latest change (0 before any). */
  get seq(): number {
    return this.last;
  }

  /** Bumped when the journal is cleared: cursors taken before it are no longer valid. */
  get generation(): number {
    return this.cleared;
  }

  record(repo: string, reference: string): void {
    const key = `${repo}\n${reference}`;
    // Re-inserted so the map stays in sequence order (since() and compact() rely on it).
    this.changes.delete(key);
    if (this.changes.size >= this.maxKeys) {
      this.changes.clear();
      this.cleared++;
    }
    this.changes.set(key, { repo, reference, seq: ++this.last });
  }

  /** Changes with a sequence number above `seq`, oldest first. */
  since(seq: number): Change[] {
    const out: Change[] = [];
    for (const change of this.changes.values()) if (change.seq > seq) out.push(change);
    return out;
  }

  /** Forgets changes every peer has been checked for (sequence number at or below `seq`). */
  compact(seq: number): void {
    for (const [key, change] of this.changes) {
      if (change.seq > seq) return;
      this.changes.delete(key);
    }
  }

  get size(): number {
    return this.changes.size;
  }
}
