// The storage driver contract: a small path-based interface (after distribution's storagedriver)
// that the image store and replication use. Paths are relative, POSIX-style, and come only from
// `storagePath()` (see paths.ts). Implementations must make `putContent` and `FileWriter.commit`
// atomic: a reader sees either the old object or the complete new one, never a torn file, even
// after SIGKILL or power loss (temp file, fsync, rename, fsync of the directory).
import type { Readable, Writable } from 'node:stream';

/** Thrown when a path does not exist. */
export class PathNotFoundError extends Error {
  readonly code = 'PATH_NOT_FOUND';
  constructor(readonly path: string) {
    super(`storage path not found: ${path}`);
    this.name = 'PathNotFoundError';
  }
}

/** The operation's result, or undefined when its path does not exist; other errors propagate. */
export async function ifFound<T>(op: Promise<T>): Promise<T | undefined> {
  try {
    return await op;
  } catch (err) {
    if (err instanceof PathNotFoundError) return undefined;
    throw err;
  }
}

export interface FileInfo {
  size: number;
  isDirectory: boolean;
  modifiedMs: number;
}

/** An open file whose bytes can be copied to a writable. */
export interface OpenFile {
  readonly size: number;
  /** Writes bytes [start, end] (inclusive) into `dest` with backpressure; does not end `dest`. */
  copyTo(dest: Writable, start: number, end: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A file being written. Bytes go to `stream`; nothing is visible at the target path until
 * `commit()` resolves. `cancel()` discards everything written. Exactly one of them must be called.
 */
export interface FileWriter {
  readonly stream: Writable;
  /** Waits for the stream to finish, fsyncs, then moves the file into place atomically. */
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

/** Options of `appendWriter`: writes in place at `offset`, for upload data that is never served. */
export interface AppendOptions {
  offset: number;
}

export interface StorageDriver {
  /** Absolute root directory (for logs and readiness checks). */
  readonly root: string;
  /** Whole small object; throws PathNotFoundError. */
  getContent(path: string): Promise<Buffer>;
  /** Atomically replaces the object (creating parent directories). */
  putContent(path: string, data: Buffer | string): Promise<void>;
  /** A stream of bytes [start, end] (inclusive); throws PathNotFoundError before streaming. */
  reader(path: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Opens a file to copy ranges of it into a writable (e.g. an HTTP response) without a stream in
   * between; throws PathNotFoundError. The caller must `close()` it.
   */
  openFile(path: string): Promise<OpenFile>;
  /** A writer to a temporary file that `commit()` renames to `path`. */
  writer(path: string): Promise<FileWriter>;
  /**
   * A writer into an existing (or new) file at `offset`: the file is first truncated to `offset`
   * (dropping any torn tail a crashed earlier write left behind); `commit()` makes the bytes
   * durable. `offset` must be a size an earlier commit reached (the caller's acknowledged size).
   * Any process sharing the storage may continue the file. Appended bytes are readable (reader,
   * stat, move) only after `finishAppends`: S3 cannot read a multipart upload in progress.
   */
  appendWriter(path: string, options: AppendOptions): Promise<FileWriter & { written: () => number }>;
  /**
   * Ends appending: afterwards `path` is an ordinary file of exactly the first `size` bytes
   * appended (a torn tail beyond is dropped; size 0 creates an empty file). Idempotent; a later
   * appendWriter at an offset up to `size` reopens the file.
   */
  finishAppends(path: string, size: number): Promise<void>;
  /** Throws PathNotFoundError. */
  stat(path: string): Promise<FileInfo>;
  /** Names of the direct children of a directory; throws PathNotFoundError. */
  list(path: string): Promise<string[]>;
  /** Atomic rename (creating the target's parents); the target is replaced. */
  move(from: string, to: string): Promise<void>;
  /** Removes a file or a directory tree; no error when it does not exist. */
  delete(path: string): Promise<void>;
  /**
   * A URL from which a client downloads the object directly, valid for `expiresMs` (distribution's
   * URLFor). Only drivers whose storage clients can reach have it (S3: a presigned GET).
   */
  downloadUrl?(path: string, expiresMs: number): string;
  /**
   * Discards incomplete writes begun before `beforeMs` that no path leads to any more (S3:
   * multipart uploads of a writer that died, or that ran on after its upload session was
   * deleted); returns how many. Only drivers that can leave such writes have it.
   */
  abortIncompleteWrites?(beforeMs: number): Promise<number>;
}
