// Young-generation collections paced by the bytes a process streams.
//
// Node reads a socket into a fresh 64 KiB buffer each time, and frees that memory only when the
// collector frees the Buffer object around it. A blob transfer allocates few JavaScript objects
// per buffer, so V8's young generation fills slowly and the collector runs rarely: tens of MiB of
// dead buffers pile up between two collections, and glibc then either keeps the freed pages (the
// workers' MALLOC_TRIM_THRESHOLD_) or gives them back and faults them in again for the next reads.
// A young collection after every few MiB streamed frees them while they are still few. It costs
// a scavenge of what is alive in the young generation (well under a millisecond here) per
// `HA_PROXY_STREAM_GC_MIB` MiB moved.
//
// Measured with bench/ab.ts (2 workers, 4 interleaved rounds, 512 MiB downloads after small
// requests), pacing every 4 MiB with 8 MiB kept by glibc (worker-node-flags.ts) against no pacing
// with 32 MiB kept: the worker peaked at 91 against 148 MiB behind the built-in registries (the
// bare Node floor: 120) and at 95 against 147 behind nginx (the floor: 139), for 1.7 against 2.3
// and 2.2 against 3.1 CPU seconds per GiB.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Counts bytes and calls `collect` each time `everyBytes` more have gone by. */
export class BytePacer {
  private since = 0;

  constructor(
    private readonly everyBytes: number,
    private readonly collect: () => void,
  ) {}

  add(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    this.collect();
  }
}

export const DEFAULT_STREAM_GC_MIB = 4;

/** HA_PROXY_STREAM_GC_MIB is not a number of MiB: the process does not start. */
export class StreamGcSettingError extends Error {}

/** The pace from the environment: `HA_PROXY_STREAM_GC_MIB` (0 turns the pacing off), else the default. */
export function streamGcBytes(env: NodeJS.ProcessEnv): number {
  const raw = env.HA_PROXY_STREAM_GC_MIB;
  const mib = raw === undefined || raw.trim() === '' ? DEFAULT_STREAM_GC_MIB : Number(raw);
  if (!Number.isFinite(mib) || mib < 0) throw new StreamGcSettingError(`HA_PROXY_STREAM_GC_MIB must be a number of MiB (0 for off), not ${JSON.stringify(raw)}`);
  return mib === 0 ? Infinity : mib * 1024 * 1024;
}

/**
 * V8's young-generation collection as a function, without making `gc` a global of the process.
 * The context that holds `gc` is made at the first collection, so a process that never streams
 * (a cluster primary) never makes it.
 */
function youngCollection(): () => void {
  let gc: ((options: { type: 'minor' }) => void) | undefined;
  return () => {
    if (gc === undefined) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    }
    gc({ type: 'minor' });
  };
}

let shared: BytePacer | undefined;

/** Starts the process's pacer (at start-up: a bad `HA_PROXY_STREAM_GC_MIB` stops it there). */
export function startStreamGcPacer(env: NodeJS.ProcessEnv = process.env): void {
  const every = streamGcBytes(env);
  shared = every === Infinity ? undefined : new BytePacer(every, youngCollection());
}

/** Counts body bytes this process has moved (a no-op until the pacer is started, and with it off). */
export function countStreamedBytes(bytes: number): void {
  shared?.add(bytes);
}

/** The chunks of `source`, each counted as it passes (a request body on its way upstream). */
export async function* countedChunks(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of source) {
    countStreamedBytes(chunk.length);
    yield chunk;
  }
}
