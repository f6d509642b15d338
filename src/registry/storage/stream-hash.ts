// Streams a body into a writable while hashing it, with backpressure, and counts bytes.
// The source is piped rather than passed to pipeline(): when the sink fails (disk full, I/O
// error) the request must stay alive so the registry can still answer with an error, instead of
// the socket being destroyed under the client.
import type { Hash } from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { countStreamedBytes } from '../../process/stream-gc-pacer.js';

export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

class SourceAbortedError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('the request body ended early (client went away)');
  }
}

/** Pipes `source` through the hashers into `sink`; resolves with the number of bytes. */
export async function pipeHashed(source: Readable, sink: Writable, hashers: Hash[], limit = Infinity): Promise<number> {
  // A source that closed before this call (its sender died while the caller was opening the
  // file) emits no more 'close' and pipes nothing: waiting for it would hang with the sink's file
  // open until the garbage collector closed it (DEP0137 warnings in chaos runs).
  if (source.destroyed && !source.readableEnded) {
    sink.destroy();
    throw new SourceAbortedError();
  }
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
      countStreamedBytes(chunk.length);
      cb(null, chunk);
    },
  });
  const onError = (err: Error) => tap.destroy(err);
  const onClose = () => {
    if (!source.readableEnded) tap.destroy(new SourceAbortedError());
  };
  source.on('error', onError);
  source.on('close', onClose);
  source.pipe(tap);
  try {
    await pipeline(tap, sink);
  } catch (err) {
    source.unpipe(tap);
    throw err;
  } finally {
    source.off('error', onError);
    source.off('close', onClose);
  }
  return bytes;
}
