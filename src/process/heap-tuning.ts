// V8 settings for a process whose objects live for one request: set at start-up, before the
// hot path has run, in every mode (the proxy, its workers, the built-in replicas).
//
// Allocation-site pretenuring is off. V8 moves an object-literal site to the old generation
// once most of its objects survived a young collection; requests in flight at start-up and in
// the first bursts make sites of the request path look long-lived, and from then on their
// objects are born old, die there and keep the young objects they point at alive until a
// full collection. Measured on one proxy process under `wrk -c32` of 1 KiB GETs
// (--trace-gc-nvp): with pretenuring 1.5-1.6 MB survived each young collection and the
// collector paused 18-19 us per request; without it 0.31-0.32 MB and 6-8 us, the same as the
// bare Node floor's survival (0.2-0.3 MB). Giving `--allocation-site-pretenuring` on the node
// command line keeps V8's default, for comparing the two.
import { setFlagsFromString } from 'node:v8';

export function tuneHeapForRequests(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.includes('--allocation-site-pretenuring')) return;
  setFlagsFromString('--no-allocation-site-pretenuring');
}
