// Per-(repository, reference) stamps: the origin time and digest of the last write of a tag, a
// manifest (reference: its digest) or a blob link, or a tombstone (no digest) for a delete. They
// are the memory the convergence rule (tag-resolution.ts) needs, kept durably under
// `_replication/stamps/` (through the storage driver).
import { createHash } from 'node:crypto';
import type { StorageDriver } from '../storage/driver.js';
import { storagePath } from '../storage/paths.js';
import { isDigest } from '../../oci/grammar.js';
import { blobLinkDigest } from './blob-links.js';
import { readJsonDir, writeJson } from './durable-files.js';
import type { Stamp } from './tag-resolution.js';

export interface StampRecord extends Stamp {
  repo: string;
  reference: string;
  /** A manifest's own stamp (reference = digest): its media type, to put it back after a lost delete. */
  mediaType?: string;
}

const keyOf = (repo: string, reference: string) => createHash('sha256').update(`${repo}\n${reference}`).digest('hex').slice(0, 40);

export class StampStore {
  private readonly stamps = new Map<string, StampRecord>();

  constructor(private readonly driver: StorageDriver) {}

  /**
   * Loads all stamps, dropping those older than `retentionMs` that only ever settle a delete:
   * tombstones, and the write stamps of manifests by digest and of blob links (a write only needs
   * one against a peer's older delete, which arrives within the retention or is not guaranteed).
   * Tag stamps stay: they order every later write of the tag. One record per manifest and blob
   * pushed within the retention, not per everything ever pushed.
   */
  async load(retentionMs: number, now = Date.now()): Promise<void> {
    for (const { path, value } of await readJsonDir<StampRecord>(this.driver, storagePath({ kind: 'replicationStamps' }))) {
      if (typeof value.repo !== 'string' || typeof value.reference !== 'string' || typeof value.time !== 'number') continue;
      const onlySettlesDeletes = value.digest === undefined || isDigest(value.reference) || blobLinkDigest(value.reference) !== undefined;
      if (onlySettlesDeletes && now - value.time > retentionMs) {
        await this.driver.delete(path);
        continue;
      }
      this.stamps.set(keyOf(value.repo, value.reference), value);
    }
  }

  get(repo: string, reference: string): StampRecord | undefined {
    return this.stamps.get(keyOf(repo, reference));
  }

  async set(record: StampRecord): Promise<void> {
    const key = keyOf(record.repo, record.reference);
    this.stamps.set(key, record);
    await writeJson(this.driver, storagePath({ kind: 'replicationStamp', key }), record);
  }

  /** Live tombstones (deletes peers must learn of). */
  tombstones(retentionMs: number, now = Date.now()): StampRecord[] {
    return [...this.stamps.values()].filter((s) => s.digest === undefined && now - s.time <= retentionMs);
  }

  /** A time for a new local write: now, but never at or before the last stamp of the same key. */
  nextTime(repo: string, reference: string, now = Date.now()): number {
    const last = this.get(repo, reference)?.time;
    return last !== undefined && last >= now ? last + 1 : now;
  }
}
