// Content-addressed blobs and the per-repository links that decide which repository may serve them.
// Commit order (distribution's): write to a temporary file while hashing, verify digest and size,
// rename into place, then link into the repository. A crash before the link leaves only an
// unreferenced blob, never a visible partial one.
import type { Readable } from 'node:stream';
import { digestFromHash, newHasher, type Digest } from '../../oci/digest.js';
import { ifFound, PathNotFoundError, type OpenFile, type StorageDriver } from './driver.js';
import { storagePath } from './paths.js';
import { StorageError } from './storage-error.js';
import { pipeHashed } from './stream-hash.js';
import type { TtlCache } from './ttl-cache.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export class BlobStore {
  constructor(
    private readonly driver: StorageDriver,
    /** `repo\0digest` -> size, for linked blobs only. */
    private readonly linked: TtlCache<number>,
  ) {}

  /** Size of the blob when the repository may serve it, else undefined. */
  async stat(repo: string, digest: Digest): Promise<number | undefined> {
    const key = `${repo}\0${digest.value}`;
    const cached = this.linked.get(key);
    if (cached !== undefined) return cached;
    const mark = this.linked.mark();
    if (!(await ifFound(this.driver.stat(storagePath({ kind: 'layerLink', repo, digest }))))) return undefined;
    const info = await ifFound(this.driver.stat(storagePath({ kind: 'blobData', digest })));
    if (info) this.linked.fill(key, info.size, mark);
    return info?.size;
  }

  /** Size of the blob in the global store (whatever repository it came from), else undefined. */
  async statGlobal(digest: Digest): Promise<number | undefined> {
    return (await ifFound(this.driver.stat(storagePath({ kind: 'blobData', digest }))))?.size;
  }

  /** Bytes [start, end] of a blob; throws StorageError (blobUnknown) if it vanished since `stat`. */
  read(repo: string, digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    return this.ofBlobData(repo, digest, (path) => this.driver.reader(path, range));
  }

  /** Opens the blob for copying ranges into a response; throws StorageError (blobUnknown) if it vanished. */
  open(repo: string, digest: Digest): Promise<OpenFile> {
    return this.ofBlobData(repo, digest, (path) => this.driver.openFile(path));
  }

  /**
   * Where a client may download the blob itself for `expiresMs` (a presigned S3 GET), or
   * undefined when the driver has no such URL. The caller has checked the repository's link.
   */
  downloadUrl(digest: Digest, expiresMs: number): string | undefined {
    return this.driver.downloadUrl?.(storagePath({ kind: 'blobData', digest }), expiresMs);
  }

  /** Runs `op` on the blob's data file; a file gone since `stat` forgets the link and is blobUnknown. */
  private async ofBlobData<T>(repo: string, digest: Digest, op: (path: string) => Promise<T>): Promise<T> {
    try {
      return await op(storagePath({ kind: 'blobData', digest }));
    } catch (err) {
      if (err instanceof PathNotFoundError) {
        this.linked.delete(`${repo}\0${digest.value}`);
        throw new StorageError({ kind: 'blobUnknown', digest: digest.value }, `blob ${digest.value} is gone from storage`);
      }
      throw err;
    }
  }

  async link(repo: string, digest: Digest): Promise<void> {
    await this.driver.putContent(storagePath({ kind: 'layerLink', repo, digest }), digest.value);
  }

  /** Removes the repository's link (the bytes stay for other repositories); false if none. */
  async unlink(repo: string, digest: Digest): Promise<boolean> {
    const key = `${repo}\0${digest.value}`;
    this.linked.delete(key);
    if (!(await ifFound(this.driver.stat(storagePath({ kind: 'layerLink', repo, digest }))))) return false;
    await this.driver.delete(storagePath({ kind: 'layerDir', repo, digest }));
    // Again once the link is gone: a lookup that read it meanwhile must not cache it (TtlCache.fill).
    this.linked.delete(key);
    return true;
  }

  /** Links a blob of another repository into `repo`; false when `from` cannot serve it. */
  async mount(from: string, repo: string, digest: Digest): Promise<boolean> {
    if ((await this.stat(from, digest)) === undefined) return false;
    await this.link(repo, digest);
    return true;
  }

  /**
   * Streams a whole blob in (monolithic upload, or a fetch by replication), verifying digest and
   * optional size before anything becomes visible; then links it into `repo`.
   */
  async put(repo: string, source: Readable, expected: Digest, expectedSize?: number): Promise<BlobInfo> {
    const path = storagePath({ kind: 'blobData', digest: expected });
    const writer = await this.driver.writer(path);
    const hash = newHasher(expected.algorithm);
    let size: number;
    // Every way out of here closes the writer's file: cancel after a commit does nothing.
    try {
      size = await pipeHashed(source, writer.stream, [hash]);
      const actual = digestFromHash(expected.algorithm, hash);
      if (actual.value !== expected.value) {
        throw new StorageError({ kind: 'digestMismatch', expected: expected.value, actual: actual.value }, `the body hashes to ${actual.value}, not ${expected.value}`);
      }
      if (expectedSize !== undefined && size !== expectedSize) {
        throw new StorageError({ kind: 'sizeMismatch', expected: expectedSize, actual: size }, `the body had ${size} bytes, ${expectedSize} were announced`);
      }
      if ((await this.statGlobal(expected)) === undefined) await writer.commit();
      else await writer.cancel();
    } catch (err) {
      await writer.cancel();
      throw err;
    }
    await this.link(repo, expected);
    return { digest: expected, size };
  }

  /** Moves a verified upload file into place (if no other push did it first) and links it. */
  async adopt(repo: string, fromPath: string, digest: Digest, size: number): Promise<BlobInfo> {
    if ((await this.statGlobal(digest)) === undefined) {
      await this.driver.move(fromPath, storagePath({ kind: 'blobData', digest }));
    }
    await this.link(repo, digest);
    return { digest, size };
  }
}
