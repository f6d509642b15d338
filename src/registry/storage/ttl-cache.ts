// A bounded map whose entries expire. Used for lookups that are immutable on this replica but may
// be changed by another process sharing the storage directory (a delete there): a short TTL bounds
// how long such a change stays unseen, while hot HEAD/GET requests skip the disk almost always.

export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  /** Counts deletes: a lookup read from disk before one must not cache what it read (see fill). */
  private deletes = 0;
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) return undefined;
    if (hit.expires <= now) {
      this.map.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) {
      // Map iterates in insertion order: the first key is the oldest entry.
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, { value, expires: now + this.ttlMs });
  }

  delete(key: string): void {
    this.deletes += 1;
    this.map.delete(key);
  }

  /** A mark taken before reading a value from disk, for fill. */
  mark(): number {
    return this.deletes;
  }

  /**
   * Caches a value read from disk since `mark`, unless an entry was deleted meanwhile: a lookup
   * that read a link just before a DELETE removed it used to cache it after the DELETE had
   * invalidated the entry, so the deleted tag or blob was served (200) for the whole TTL.
   * Any delete, of any key, skips the fill: deletes are rare and a skipped fill only costs a
   * disk read next time.
   */
  fill(key: string, value: V, mark: number, now = Date.now()): void {
    if (mark === this.deletes) this.set(key, value, now);
  }
}
