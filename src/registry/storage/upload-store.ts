// Upload sessions kept entirely in storage (data file + atomically replaced state file), so an
// upload survives a restart and can be continued by another process sharing the directory.
// A running sha256 is cached in memory as an optimisation only: it is used when its byte count
// matches the stored state, otherwise the data file is re-hashed at commit.
import { randomUUID, type Hash } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import type { BlobStore, BlobInfo } from './blob-store.js';
import { digestFromHash, newHasher, type Digest } from '../../oci/digest.js';
import { ifFound, PathNotFoundError, type StorageDriver } from './driver.js';
import { isValidUploadId } from './names.js';
import { storagePath } from './paths.js';
import { StorageError } from './storage-error.js';
import { pipeHashed, TooLargeError } from './stream-hash.js';

export interface UploadStatus {
  id: string;
  repo: string;
  /** Bytes durably received (the next chunk must start here). */
  size: number;
  startedAt: string;
}

/** Where a chunk must start and how long it must be (from its Content-Range). */
export interface ChunkRange {
  start: number;
  length: number;
}

interface StoredState {
  startedAt: string;
  size: number;
}

/** Running hashes for at most this many open uploads; older ones fall back to re-hashing. */
const MAX_CACHED_HASHES = 1024;

/** A chunk whose body is longer or shorter than its Content-Range: nothing of it is kept. */
function chunkLengthError(range: ChunkRange, received: number | undefined): StorageError {
  const got = received === undefined ? 'more' : String(received);
  return new StorageError(
    { kind: 'sizeMismatch', expected: range.length, actual: received },
    `Content-Range ${range.start}-${range.start + range.length - 1} announces ${range.length} bytes, the body had ${got}`,
  );
}

const unknownUpload = (id: string) => new StorageError({ kind: 'uploadUnknown', id }, `no upload session ${id}`);

export class UploadStore {
  private readonly hashes = new Map<string, { hash: Hash; size: number }>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {}

  async create(repo: string): Promise<UploadStatus> {
    const id = randomUUID();
    const state: StoredState = { startedAt: new Date().toISOString(), size: 0 };
    await this.driver.putContent(storagePath({ kind: 'uploadState', repo, id }), JSON.stringify(state));
    this.remember(`${repo}\0${id}`, { hash: newHasher('sha256'), size: 0 });
    return { id, repo, ...state };
  }

  async status(repo: string, id: string): Promise<UploadStatus> {
    if (!isValidUploadId(id)) throw unknownUpload(id);
    try {
      const state = JSON.parse((await this.driver.getContent(storagePath({ kind: 'uploadState', repo, id }))).toString()) as StoredState;
      return { id, repo, ...state };
    } catch (err) {
      if (err instanceof PathNotFoundError) throw unknownUpload(id);
      throw err;
    }
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must equal the bytes received so far, else 416.
   * The state file is replaced only after the chunk is fsynced, so a crash mid-chunk loses only
   * that chunk.
   */
  append(repo: string, id: string, source: Readable, range?: ChunkRange): Promise<UploadStatus> {
    return this.locked(`${repo}\0${id}`, () => this.appendLocked(repo, id, source, range));
  }

  /** Appends an optional final chunk, verifies the digest and moves the blob into place. */
  commit(repo: string, id: string, digest: Digest, finalChunk?: Readable, range?: ChunkRange): Promise<BlobInfo> {
    const key = `${repo}\0${id}`;
    return this.locked(key, async () => {
      let status = await this.status(repo, id);
      // The state file is not rewritten for the last chunk: the session ends in this request.
      if (finalChunk) status = await this.appendLocked(repo, id, finalChunk, range, false);
      const dataPath = storagePath({ kind: 'uploadData', repo, id });
      // Drops a torn tail after a crash mid-chunk; on S3 completes the multipart upload.
      await this.driver.finishAppends(dataPath, status.size);
      const actual = await this.digestOf(key, dataPath, status.size, digest);
      if (actual.value !== digest.value) {
        // The spec lets a client retry, but the issue demands nothing of a rejected blob is kept.
        await this.remove(repo, id);
        throw new StorageError({ kind: 'digestMismatch', expected: digest.value, actual: actual.value }, `the upload hashes to ${actual.value}, not ${digest.value}`);
      }
      const info = await this.blobs.adopt(repo, dataPath, digest, status.size);
      await this.remove(repo, id);
      return info;
    });
  }

  async cancel(repo: string, id: string): Promise<void> {
    await this.status(repo, id);
    await this.remove(repo, id);
  }

  private async appendLocked(repo: string, id: string, source: Readable, range?: ChunkRange, persist = true): Promise<UploadStatus> {
    const status = await this.status(repo, id);
    if (range !== undefined && range.start !== status.size) {
      throw new StorageError({ kind: 'chunkOutOfOrder', start: range.start, size: status.size }, `chunk starts at ${range.start}, upload has ${status.size} bytes`);
    }
    const key = `${repo}\0${id}`;
    const running = this.hashes.get(key);
    const useRunning = running !== undefined && running.size === status.size;
    if (!useRunning) this.hashes.delete(key);
    const writer = await this.driver.appendWriter(storagePath({ kind: 'uploadData', repo, id }), { offset: status.size });
    let bytes: number;
    try {
      bytes = await pipeHashed(source, writer.stream, useRunning ? [running.hash] : [], range?.length);
      if (range !== undefined && bytes !== range.length) throw chunkLengthError(range, bytes);
      await writer.commit();
    } catch (err) {
      this.hashes.delete(key);
      await writer.cancel();
      if (err instanceof TooLargeError) throw chunkLengthError(range as ChunkRange, undefined);
      throw err;
    }
    const next: StoredState = { startedAt: status.startedAt, size: status.size + bytes };
    if (persist) {
      try {
        await this.driver.putContent(storagePath({ kind: 'uploadState', repo, id }), JSON.stringify(next));
      } catch (err) {
        // The chunk is on disk but not recorded (disk full): give its space back now rather
        // than when the session is next touched or purged.
        this.hashes.delete(key);
        await this.trimTornTail(repo, id, status.size).catch(() => undefined);
        throw err;
      }
    }
    if (useRunning) running.size = next.size;
    return { id, repo, ...next };
  }

  /** After a crash mid-chunk the data file may be longer than the state says: cut it back. */
  private async trimTornTail(repo: string, id: string, size: number): Promise<void> {
    const path = storagePath({ kind: 'uploadData', repo, id });
    const info = await ifFound(this.driver.stat(path));
    if (!info || info.size === size) return;
    const writer = await this.driver.appendWriter(path, { offset: size });
    await writer.commit();
  }

  private async digestOf(key: string, dataPath: string, size: number, wanted: Digest): Promise<Digest> {
    const running = this.hashes.get(key);
    this.hashes.delete(key);
    if (wanted.algorithm === 'sha256' && running && running.size === size) return digestFromHash('sha256', running.hash);
    const hash = newHasher(wanted.algorithm);
    if (size > 0) {
      await pipeHashed(await this.driver.reader(dataPath, { start: 0, end: size - 1 }), new Writable({ write: (_c, _e, cb) => cb() }), [hash]);
    }
    return digestFromHash(wanted.algorithm, hash);
  }

  private async remove(repo: string, id: string): Promise<void> {
    this.hashes.delete(`${repo}\0${id}`);
    await this.driver.delete(storagePath({ kind: 'uploadDir', repo, id }));
  }

  private remember(key: string, entry: { hash: Hash; size: number }): void {
    if (this.hashes.size >= MAX_CACHED_HASHES) {
      const oldest = this.hashes.keys().next().value;
      if (oldest !== undefined) this.hashes.delete(oldest);
    }
    this.hashes.set(key, entry);
  }

  /** Serialises operations on one upload within this process (chunks must not interleave). */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
