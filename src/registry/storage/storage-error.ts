// What storage refuses or cannot do, in storage's own terms. Storage knows no HTTP: the API maps
// each fault to the OCI error code and status a client sees (src/registry/api/storage-faults.ts),
// and replication, which writes through the same stores, reads the fault itself.
// Driver failures (PathNotFoundError, errno codes such as ENOSPC) are not wrapped here.

export type StorageFault =
  /** The blob's bytes are gone (deleted or collected since the lookup that found them). */
  | { kind: 'blobUnknown'; digest: string }
  /** No upload session under this id in the repository (never started, finished, purged). */
  | { kind: 'uploadUnknown'; id: string }
  /** The bytes received hash to another digest than the one they were sent under. */
  | { kind: 'digestMismatch'; expected: string; actual: string }
  /** A body longer or shorter than announced; `actual` is undefined when it was cut off for being longer. */
  | { kind: 'sizeMismatch'; expected: number; actual?: number }
  /** A chunk that does not start where the upload ends (`size`: the bytes received so far). */
  | { kind: 'chunkOutOfOrder'; start: number; size: number }
  /** A file storage wrote itself no longer parses (a revision link, say). */
  | { kind: 'corrupt'; path: string }
  /** The storage service did not answer in time or dropped the connection (S3 frozen, partitioned, down). */
  | { kind: 'unavailable'; reason: string };

export class StorageError extends Error {
  constructor(
    readonly fault: StorageFault,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
