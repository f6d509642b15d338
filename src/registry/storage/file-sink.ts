// A Writable over a FileHandle that writes batched chunks (writev) at an explicit position and
// starts an fdatasync every SYNC_EVERY_BYTES while data keeps arriving. The final fsync in
// `_final` then has little left to flush: on these VMs one fsync of 512 MiB of dirty pages ran at
// ~140 MB/s while overlapped datasyncs every 64 MiB kept writes at several hundred MB/s.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export const SYNC_EVERY_BYTES = 64 * 1024 * 1024;
const HIGH_WATER_MARK = 1024 * 1024;

export class FileSink extends Writable {
  private position: number;
  private sinceSync = 0;
  private syncing: Promise<void> | undefined;
  private syncError: Error | undefined;
  /** The write in progress: a destroy waits for it, so no byte lands after a cancel's truncate. */
  private inflight: Promise<void> = Promise.resolve();
  written = 0;

  constructor(
    private readonly fh: FileHandle,
    start: number,
  ) {
    super({ highWaterMark: HIGH_WATER_MARK, emitClose: true });
    this.position = start;
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.track(this.writeBuffers(chunks.map((c) => c.chunk))).then(() => cb(), cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.track(this.writeBuffers([chunk])).then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const settle = () => cb(err);
    this.inflight.then(settle, settle);
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight = p.catch(() => undefined);
    return p;
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      await this.syncing;
      if (this.syncError) throw this.syncError;
      // fdatasync also flushes the file size (the metadata needed to read the data back).
      await this.fh.datasync();
    })().then(() => cb(), cb);
  }

  private async writeBuffers(buffers: Buffer[]): Promise<void> {
    if (this.syncError) throw this.syncError;
    let total = 0;
    for (const b of buffers) total += b.length;
    let done = 0;
    while (done < total) {
      // writev may write less than asked (rare on regular files): continue from where it stopped.
      const rest = done === 0 ? buffers : sliceFrom(buffers, done);
      const { bytesWritten } = await this.fh.writev(rest, this.position);
      this.position += bytesWritten;
      done += bytesWritten;
    }
    this.written += total;
    this.sinceSync += total;
    if (this.sinceSync >= SYNC_EVERY_BYTES && !this.syncing) {
      this.sinceSync = 0;
      this.syncing = this.fh.datasync().then(
        () => {
          this.syncing = undefined;
        },
        (err: Error) => {
          this.syncError = err;
          this.syncing = undefined;
        },
      );
    }
  }
}

function sliceFrom(buffers: Buffer[], offset: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = offset;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
