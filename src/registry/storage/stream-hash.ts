// Streams a body into a writable while hashing it, with backpressure (pipeline), and counts bytes.
import type { Hash } from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/** Pipes `source` through the hashers into `sink`; resolves with the number of bytes. */
export async function pipeHashed(source: Readable, sink: Writable, hashers: Hash[], limit = Infinity): Promise<number> {
  let bytes = 0;
  const tap = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > limit) {
        cb(new TooLargeError(limit));
        return;
      }
      for (const h of hashers) h.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(source, tap, sink);
  return bytes;
}
