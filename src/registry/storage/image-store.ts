// The image store: the one object the API handlers and replication use to reach storage.
//
//   store.blobs      BlobStore      stat/read/link/unlink/mount/put (content-addressed + repo links)
//   store.uploads    UploadStore    create/status/append/commit/cancel (state kept on disk)
//   store.manifests  ManifestStore  resolveTag/get/put/delete/deleteTag/listTags/referrers
//   store.catalog()  repositories in lexical order
//   store.driver     the StorageDriver underneath (replication keeps its queue under `_replication/`)
//
// Callers pass validated repository names (names.ts) and parsed digests (digest.ts).
import { randomUUID } from 'node:crypto';
import { BlobStore } from './blob-store.js';
import { ifFound, PathNotFoundError, type StorageDriver } from './driver.js';
import { FsDriver } from './fs-driver.js';
import { ManifestStore, type ManifestRecord } from './manifest-store.js';
import { storagePath } from './paths.js';
import { TtlCache } from './ttl-cache.js';
import { repositoryDirectories, repositoryNamesAfter } from './repository-tree.js';
import { UploadStore } from './upload-store.js';

export interface ImageStoreOptions {
  /**
   * How long positive lookups (tag -> digest, linked blob sizes, manifests) are cached. Bounds how
   * long a delete made by another process sharing the directory stays unseen here.
   */
  cacheTtlMs?: number;
}

/** 2 s: long enough that hot HEAD/GET requests skip the disk, short enough for shared storage. */
export const DEFAULT_CACHE_TTL_MS = 2000;
/** Bounds the memory of the caches (a cached manifest record holds at most 64 KiB of bytes). */
const MAX_CACHED_MANIFESTS = 1024;
const MAX_CACHED_LOOKUPS = 100_000;
/** Temporary files older than this at start-up are leftovers of a crash (no write takes a day). */
const STALE_TMP_MS = 24 * 3600 * 1000;

export class ImageStore {
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;

  constructor(
    readonly driver: StorageDriver,
    options: ImageStoreOptions = {},
  ) {
    const ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.blobs = new BlobStore(driver, new TtlCache<number>(ttl, MAX_CACHED_LOOKUPS));
    this.uploads = new UploadStore(driver, this.blobs);
    this.manifests = new ManifestStore(driver, new TtlCache<ManifestRecord>(ttl, MAX_CACHED_MANIFESTS), new TtlCache<string>(ttl, MAX_CACHED_LOOKUPS));
  }

  static onDirectory(root: string, options: ImageStoreOptions = {}): ImageStore {
    return new ImageStore(new FsDriver(root), options);
  }

  /** True when the repository holds anything (blobs, manifests, tags or uploads). */
  async repoExists(repo: string): Promise<boolean> {
    return (await ifFound(this.driver.stat(storagePath({ kind: 'repo', repo }))))?.isDirectory ?? false;
  }

  /** Every repository holding at least one manifest, in lexical order. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    for await (const name of repositoryNamesAfter(this.driver)) out.push(name);
    return out;
  }

  /**
   * At most `n` repositories after `last` (lexical order), and whether more follow; reads the
   * directories of the page only (repositoryNamesAfter), not the whole tree.
   */
  async catalogPage(n: number, last?: string): Promise<{ items: string[]; more: boolean }> {
    const items: string[] = [];
    if (n === 0) return { items, more: false };
    for await (const name of repositoryNamesAfter(this.driver, last)) {
      if (items.length === n) return { items, more: true };
      items.push(name);
    }
    return { items, more: false };
  }

  /**
   * Removes upload sessions started more than `maxAgeMs` ago (clients that gave up without a
   * DELETE). Returns how many were removed.
   */
  async purgeStaleUploads(maxAgeMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for await (const { name: repo, children } of repositoryDirectories(this.driver)) {
      if (children.includes('_uploads')) {
        for (const id of await this.driver.list(storagePath({ kind: 'uploadsDir', repo })).catch(() => [] as string[])) {
          try {
            const state = JSON.parse((await this.driver.getContent(storagePath({ kind: 'uploadState', repo, id }))).toString()) as { startedAt: string };
            if (now - Date.parse(state.startedAt) <= maxAgeMs) continue;
          } catch (err) {
            // A session without a readable state is a crash leftover from before its first write.
            if (!(err instanceof PathNotFoundError) && !(err instanceof SyntaxError)) throw err;
            const info = await this.driver.stat(storagePath({ kind: 'uploadDir', repo, id })).catch(() => undefined);
            if (info && now - info.modifiedMs <= maxAgeMs) continue;
          }
          await this.driver.delete(storagePath({ kind: 'uploadDir', repo, id }));
          removed++;
        }
      }
    }
    await this.driver.abortIncompleteWrites?.(now - maxAgeMs);
    return removed;
  }

  /** Writes, reads back and removes a probe file: the /readyz check. */
  async checkWritable(): Promise<string | undefined> {
    const probe = storagePath({ kind: 'tmpFile', name: `readyz-${randomUUID()}` });
    try {
      await this.driver.putContent(probe, 'ok');
      await this.driver.getContent(probe);
      await this.driver.delete(probe);
      return undefined;
    } catch (err) {
      return `storage not writable: ${(err as Error).message}`;
    }
  }

  /** Removes temporary files a crash left behind (old enough that no live writer owns them). */
  async removeStaleTemporaries(now = Date.now()): Promise<number> {
    let removed = 0;
    const names = await ifFound(this.driver.list(storagePath({ kind: 'tmpDir' })));
    if (!names) return 0;
    for (const name of names) {
      const path = storagePath({ kind: 'tmpFile', name });
      try {
        const info = await this.driver.stat(path);
        if (now - info.modifiedMs > STALE_TMP_MS) {
          await this.driver.delete(path);
          removed++;
        }
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    return removed;
  }
}
