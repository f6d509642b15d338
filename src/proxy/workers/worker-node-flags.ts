// Node flags of the workers a primary forks. A V8 heap size can only be set when a process
// starts, so the primary passes it on the workers' command line.
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
