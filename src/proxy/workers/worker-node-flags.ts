// Node flags and glibc settings of the workers a primary forks. A V8 heap size can only be set
// when a process starts, so the primary passes it on the workers' command line.
//
// The young generation is capped at 4 MiB per semi-space (V8's default grows it to 16 MiB under
// load): a proxy's objects live for one request, so a small young generation collects them as
// often as needed, and the socket read buffers a blob transfer allocates (held outside the heap
// until their wrappers are collected) are freed sooner. Measured with bench/ab.ts (2 workers,
// static backends, the same interleaved rounds): the worker carrying a 512 MiB download peaked
// at 144 MiB against 166 MiB with V8's default and the bare Node floor's 133 MiB; CPU per small
// request 126 against 140 us (inside the run's noise). An operator's own setting wins.
export const WORKER_SEMI_SPACE_MIB = 4;

export function workerExecArgv(primaryExecArgv: readonly string[]): string[] {
  const own = primaryExecArgv.some((flag) => flag.startsWith('--max-semi-space-size'));
  return own ? [...primaryExecArgv] : [...primaryExecArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`];
}

/**
 * glibc gives heap memory back to the kernel as soon as 128 KiB lie free at its top, and a
 * worker streaming a blob frees its socket read buffers in batches, at each collection: glibc
 * then trims and faults its heap in again without pause. The stream pacer
 * (process/stream-gc-pacer.ts) collects every few MiB streamed; keeping twice that much freed
 * memory lets the next reads reuse it. Measured on 512 MiB downloads through 2 workers, pacing
 * every 4 MiB: 3.1k page faults per GiB and 88-90 MiB of worker RSS with 8 MiB kept, 15-34k and
 * 80 MiB with glibc's own threshold, 2.7-3k and 115 MiB with 32 MiB. Without pacing
 * (HA_PROXY_STREAM_GC_MIB=0) the batches are tens of MiB, and 32 MiB kept cut the faults from
 * 161k to 47k per GiB and the worker's CPU per GiB by a quarter. Only effective from process
 * start, hence set for the workers we fork; an operator's own setting wins.
 */
export function workerMallocEnv(streamGcBytes: number): Record<string, string> {
  const keep = streamGcBytes === Infinity ? 32 * 1024 * 1024 : 2 * streamGcBytes;
  return { MALLOC_TRIM_THRESHOLD_: String(keep) };
}
