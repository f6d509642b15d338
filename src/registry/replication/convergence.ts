// Convergence on this replica: the stamps of the writes and deletes it took (from its clients
// or from peers), and what storage must hold by the rule in tag-resolution.ts whatever order the
// copies arrive in. Each (repository, reference) is settled under its own lock. Decisions are
// the pure functions of tag-resolution.ts; this part applies them to the stamps and the store.
import type { Logger } from '../../observability/logger.js';
import { isDigest } from '../../oci/grammar.js';
import { blobLinkDigest } from './blob-links.js';
import type { ReplicaStore } from './replica-store.js';
import { KeyedMutex } from './single-flight.js';
import type { StampRecord, StampStore } from './stamp-store.js';
import { copyScope, incomingWins, replicatedDeleteOutcome, type CopyScope } from './tag-resolution.js';

/** What the push scheduler asks before it sends a queued delete. */
export interface DeleteCheck {
  /** True while nothing was written under `reference` since it was deleted here. */
  deleteStands(repo: string, reference: string): boolean;
}

export class Convergence implements DeleteCheck {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly store: ReplicaStore,
    private readonly stamps: StampStore,
    private readonly logger: Logger,
  ) {}

  private locked<T>(repo: string, reference: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(`${repo}\n${reference}`, fn);
  }

  /** The time of the tombstone held for `reference` (a tag, digest or blob link), if any. */
  deletedAt(repo: string, reference: string): number | undefined {
    const stamp = this.stamps.get(repo, reference);
    return stamp !== undefined && stamp.digest === undefined ? stamp.time : undefined;
  }

  isDeleted(repo: string, reference: string): boolean {
    return this.deletedAt(repo, reference) !== undefined;
  }

  deleteStands(repo: string, reference: string): boolean {
    return this.stamps.get(repo, reference)?.digest === undefined;
  }

  /** What of a peer's manifest copy written at `time` to store (see copyScope). */
  copyScope(repo: string, digest: string, tags: readonly string[], time: number): CopyScope {
    return copyScope({ time, digest }, this.deletedAt(repo, digest), tags, (tag) => this.stamps.get(repo, tag));
  }

  /** A client's tag write: stamped now, and the stored tag made to point at it. Returns its time. */
  localTag(repo: string, tag: string, digest: string): Promise<number> {
    return this.locked(repo, tag, async () => {
      const time = this.stamps.nextTime(repo, tag);
      await this.stamps.set({ repo, reference: tag, digest, time });
      await this.enforceTag(repo, tag, digest);
      return time;
    });
  }

  /**
   * A client's push of a manifest, stamped under its digest (replacing any tombstone: pushed
   * again after a delete), so a peer's older delete by digest loses to it. Returns its time.
   */
  localManifest(repo: string, digest: string, mediaType: string): Promise<number> {
    return this.localWrite(repo, digest, digest, mediaType);
  }

  /**
   * A client's blob commit, stamped under its blob link `reference` (replacing any tombstone: it
   * lives again over a delete made here), so a peer's older delete of the link loses to it.
   */
  localBlob(repo: string, reference: string, digest: string): Promise<number> {
    return this.localWrite(repo, reference, digest);
  }

  private localWrite(repo: string, reference: string, digest: string, mediaType?: string): Promise<number> {
    return this.locked(repo, reference, async () => {
      const time = this.stamps.nextTime(repo, reference);
      await this.stamps.set({ repo, reference, digest, time, ...(mediaType === undefined ? {} : { mediaType }) });
      return time;
    });
  }

  /** A tag copy from a peer: kept only if it wins by the rule; otherwise the winner is restored. */
  async peerTag(repo: string, tag: string, incoming: { time: number; digest: string }): Promise<void> {
    await this.locked(repo, tag, async () => {
      const current = this.stamps.get(repo, tag);
      if (incomingWins(current, incoming)) {
        await this.stamps.set({ repo, reference: tag, ...incoming });
        await this.enforceTag(repo, tag, incoming.digest);
        return;
      }
      this.logger.info({ repo, tag, kept: current?.digest ?? 'deleted', refused: incoming.digest }, 'replicated tag lost to a newer write');
      await this.enforceTag(repo, tag, current?.digest);
    });
  }

  /** A manifest copy from a peer over a delete by digest made here: lives if newer, else deleted again. */
  peerManifest(repo: string, digest: string, mediaType: string, time: number): Promise<void> {
    return this.settleOverTombstone(repo, digest, { digest, time, mediaType }, () => this.store.deleteManifest(repo, digest));
  }

  /** A blob copy from a peer over the blob link `reference` deleted here: lives if newer, else unlinked again. */
  peerBlob(repo: string, reference: string, digest: string, time: number): Promise<void> {
    return this.settleOverTombstone(repo, reference, { digest, time }, () => this.store.unlinkBlob(repo, digest));
  }

  /**
   * A write of `reference` (a manifest digest or a blob link) from a peer, or an older one, lands
   * on a tombstone: a write newer than the delete lives and replaces the tombstone; an older one
   * is undone by `undo` (the peer learns of the delete from us).
   */
  private async settleOverTombstone(repo: string, reference: string, write: { digest: string; time: number; mediaType?: string }, undo: () => Promise<unknown>): Promise<void> {
    await this.locked(repo, reference, async () => {
      if (!this.isDeleted(repo, reference)) return;
      if (incomingWins(this.stamps.get(repo, reference), write)) {
        await this.stamps.set({ repo, reference, ...write });
        return;
      }
      this.logger.info({ repo, reference }, 'replicated write was deleted here later; deleting it again');
      await undo();
    });
  }

  /** A client's delete of `references` (the first: what was deleted; then tags it took along). Returns its time. */
  async localDelete(repo: string, references: readonly string[]): Promise<number> {
    const time = this.stamps.nextTime(repo, references[0]);
    for (const reference of references) await this.locked(repo, reference, () => this.stamps.set({ repo, reference, time }));
    return time;
  }

  /** A peer's delete at `time`: recorded, unless a newer write here wins (which is put back). */
  async peerDelete(repo: string, references: readonly string[], time: number): Promise<void> {
    for (const reference of references) {
      await this.locked(repo, reference, async () => {
        const current = this.stamps.get(repo, reference);
        const outcome = replicatedDeleteOutcome(current, time);
        if (outcome === 'record') await this.stamps.set({ repo, reference, time });
        if (outcome !== 'write-wins') return;
        this.logger.info({ repo, reference, kept: current?.digest }, 'replicated delete lost to a newer write');
        await this.restoreAfterLostDelete(repo, reference, current);
      });
    }
  }

  /**
   * Puts back what a peer's losing delete removed: a blob link, a manifest (by digest: before its
   * tags, which the same delete removed and which need it) or a tag.
   */
  private async restoreAfterLostDelete(repo: string, reference: string, winner: StampRecord | undefined): Promise<void> {
    const blob = blobLinkDigest(reference);
    if (blob !== undefined) {
      if (!(await this.store.linkBlob(repo, blob))) this.logger.warn({ repo, digest: blob }, 'blob link could not be restored: its bytes are gone (gc)');
      return;
    }
    if (!isDigest(reference)) {
      await this.enforceTag(repo, reference, winner?.digest);
      return;
    }
    if ((await this.store.getManifest(repo, reference)) !== undefined) return;
    if (!(await this.store.restoreManifest(repo, reference, winner?.mediaType))) {
      this.logger.warn({ repo, digest: reference }, 'manifest could not be restored: its bytes are gone (gc)');
    }
  }

  /** Makes the stored tag point at `digest` (or not exist), whatever order the writes hit storage in. */
  private async enforceTag(repo: string, tag: string, digest: string | undefined): Promise<void> {
    const now = await this.store.getManifest(repo, tag);
    if (digest === undefined) {
      if (now) await this.store.deleteManifest(repo, tag);
      return;
    }
    if (now?.digest === digest) return;
    const winner = await this.store.getManifest(repo, digest);
    if (winner) await this.store.putManifest(repo, tag, winner.body, winner.mediaType, winner.digest);
  }
}
