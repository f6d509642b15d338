// Copies a byte range of an open file to a writable (an HTTP response) with two reused buffers:
// the next read runs while the previous chunk is being written. Measured on these VMs against
// a 512 MiB blob: 0.40 CPU ms/MiB and ~1.6 GB/s with 2 MiB buffers, against 0.62 ms/MiB and
// ~1.1 GB/s for fs.ReadStream piped into the response, and ~1.6x the CPU with 64 KiB buffers.
//
// But a buffer handed to a client that does not read stays allocated until it does: with 2 MiB
// buffers for every download, 200 readers at 64 B/s held 864 MiB. So every copy starts with
// small buffers and moves to large ones only while the client keeps up (each write was taken by
// the socket at once) and only within a process-wide budget; the first write that has to wait
// moves it back to small buffers. A stalled reader therefore pins two small buffers, and all
// the large ones together never exceed the budget.
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/** What a reader that stops reading may pin: two of these. */
export const SMALL_CHUNK_BYTES = 64 * 1024;
/** 2 MiB: beat 1 MiB and 4 MiB buffers in the measurement above. */
export const LARGE_CHUNK_BYTES = 2 * 1024 * 1024;
/** Large buffers in use by all copies together: 8 downloads at full speed. */
export const LARGE_BUFFER_BUDGET_BYTES = 16 * LARGE_CHUNK_BYTES;

/** A process-wide allowance of bytes (large copy buffers in use). */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
  give(bytes: number): void {
    this.used -= bytes;
  }
  get inUse(): number {
    return this.used;
  }
}

const largeBuffers = new ByteBudget(LARGE_BUFFER_BUDGET_BYTES);

/**
 * The size of the buffer to read into next, given how the last write went. Pure: `granted`
 * says whether the budget allowed a large buffer (asked only when one is wanted).
 */
export function nextChunkBytes(current: number, writeHadToWait: boolean, grantLarge: () => boolean): number {
  if (writeHadToWait) return SMALL_CHUNK_BYTES;
  if (current === LARGE_CHUNK_BYTES) return current;
  return grantLarge() ? LARGE_CHUNK_BYTES : SMALL_CHUNK_BYTES;
}

class DestinationClosedError extends Error {
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('destination closed before the copy finished');
  }
}

/** Writes bytes [start, end] (inclusive) of `fh` into `dest`; does not end `dest`. */
export async function copyRange(fh: FileHandle, dest: Writable, start: number, end: number, budget = largeBuffers): Promise<void> {
  const total = end - start + 1;
  if (total <= 0) return;
  const first = Math.min(SMALL_CHUNK_BYTES, total);
  const buffers = [Buffer.allocUnsafe(first), Buffer.allocUnsafe(first)];
  let closed = false;
  let rejectPending: ((err: Error) => void) | undefined;
  const onClose = () => {
    closed = true;
    rejectPending?.(new DestinationClosedError());
  };
  dest.once('close', onClose);
  try {
    let done = 0;
    let which = 0;
    let writing: Promise<void> = Promise.resolve();
    let written = true;
    let reading = fh.read(buffers[0], 0, first, start);
    while (done < total) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) throw new Error(`file ended ${total - done} bytes early`);
      // The client keeps up when its previous chunk was taken before the disk read this one.
      const clientKeptUp = written;
      // The callback fires once the chunk has been handed to the kernel: only then may the
      // buffer be reused for the next read.
      await writing;
      const current = buffers[which];
      done += bytesRead;
      which ^= 1;
      if (done < total) {
        const free = buffers[which];
        // Near the end a large buffer would not pay for itself.
        const size = total - done > LARGE_CHUNK_BYTES ? nextChunkBytes(free.length, !clientKeptUp, () => budget.tryTake(LARGE_CHUNK_BYTES)) : free.length;
        if (size !== free.length) {
          if (free.length === LARGE_CHUNK_BYTES) budget.give(LARGE_CHUNK_BYTES);
          buffers[which] = Buffer.allocUnsafe(size);
        }
        reading = fh.read(buffers[which], 0, Math.min(buffers[which].length, total - done), start + done);
      }
      if (closed) throw new DestinationClosedError();
      const chunk = bytesRead === current.length ? current : current.subarray(0, bytesRead);
      written = false;
      writing = new Promise<void>((resolve, reject) => {
        rejectPending = reject;
        dest.write(chunk, (err) => {
          written = true;
          if (err) reject(err);
          else resolve();
        });
      });
      // Awaited at the next turn; until then a rejection (client gone) must not count as unhandled.
      writing.catch(() => undefined);
    }
    await writing;
  } finally {
    dest.off('close', onClose);
    for (const b of buffers) if (b.length === LARGE_CHUNK_BYTES) budget.give(LARGE_CHUNK_BYTES);
  }
}
