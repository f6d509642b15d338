// Command-line options of `npm run bench`.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

// ha-proxy-redirect: ha-proxy with routing.blobRedirect, measured on the built-in registry set
// only (a static backend checks no signature): small GETs are its 307 answers, blobs are fetched
// from the replica the 307 names.
export const ALL_TARGETS = ['direct', 'ha-proxy', 'ha-proxy-redirect', 'node-floor', 'haproxy', 'nginx'] as const;
export type TargetName = (typeof ALL_TARGETS)[number];

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  seconds: number;
  blobRounds: number;
  failoverSeconds: number;
  connections: number;
  threads: number;
  workers: number;
  targets: TargetName[];
  failover: boolean;
  /** Also measure with the built-in registry as the backend. */
  registry: boolean;
  /** The 16-client pull workload (pull-workload.ts) at the end. */
  workload: boolean;
  outDir: string;
  haProxyArgs: string[];
}

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --quick              2 short rounds, 1 blob round, short failover, 1 workload round
  --rounds N           small-request rounds per target, interleaved (default 3)
  --seconds S          length of one small-request round (default 10)
  --blob-rounds N      512 MiB downloads per target (default 3)
  --connections N      wrk connections (default 64)
  --threads N          wrk threads (default 2)
  --workers N          ha-proxy --workers, HAProxy nbthread, nginx worker_processes (default: CPUs)
  --targets LIST       comma-separated subset of ${ALL_TARGETS.join(',')}
  --no-failover        skip the SIGKILL-under-load scenario
  --no-registry        skip the built-in registry backend set (static nginx backends only)
  --no-workload        skip the 16-client image pull workload (embedded default, HAProxy, blobRedirect)
  --ha-proxy-arg ARG   extra flag for ha-proxy (repeatable)
  --out DIR            where the raw JSON goes (default bench/results)
`;

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean' },
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      'blob-rounds': { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      workers: { type: 'string' },
      targets: { type: 'string' },
      'no-failover': { type: 'boolean' },
      'no-registry': { type: 'boolean' },
      'no-workload': { type: 'boolean' },
      'ha-proxy-arg': { type: 'string', multiple: true },
      out: { type: 'string' },
    },
  });
  if (v.help) return 'help';
  const quick = v.quick ?? false;
  const int = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: must be a positive integer`);
    return n;
  };
  const targets = (v.targets?.split(',') ?? [...ALL_TARGETS]) as TargetName[];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`--targets: unknown target "${t}"`);
  return {
    quick,
    rounds: int(v.rounds, quick ? 2 : 3, 'rounds'),
    seconds: int(v.seconds, quick ? 2 : 10, 'seconds'),
    blobRounds: int(v['blob-rounds'], quick ? 1 : 3, 'blob-rounds'),
    failoverSeconds: quick ? 5 : 10,
    connections: int(v.connections, 64, 'connections'),
    threads: int(v.threads, 2, 'threads'),
    workers: int(v.workers, availableParallelism(), 'workers'),
    targets,
    failover: !(v['no-failover'] ?? false),
    registry: !(v['no-registry'] ?? false),
    workload: !(v['no-workload'] ?? false),
    outDir: v.out ?? 'bench/results',
    haProxyArgs: v['ha-proxy-arg'] ?? [],
  };
}
