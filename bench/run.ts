// `npm run bench`: ha-proxy beside HAProxy and nginx (and the backend direct), all running at
// once and measured in interleaved rounds so a noisy neighbour hits every target alike. Two
// backend sets: a fast static server (nginx), so the proxies' own cost shows, and the built-in
// registry, as deployed (with an ha-proxy-redirect row: routing.blobRedirect). Then the 16-client
// image pull workload (pull-workload.ts). Prints the tables, with ratios to HAProxy from this run
// (per backend set), and writes the raw rounds as JSON.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runFailover } from './failover.js';
import { download, failedRequests, wrk } from './load.js';
import { BENCH_USAGE, parseBenchArgs, type BenchOptions } from './options.js';
import { measureWhile, processTree } from './proc-stats.js';
import { formatWorkloadTable, runPullWorkload } from './pull-workload.js';
import { rotation } from './rotation.js';
import { formatFailoverTable, formatTable, summarize, withRatios, type BlobRound, type FailoverResult, type SmallRound, type TargetSummary } from './report.js';
import { blobPath, startBuiltinRegistries, startProxy, startStaticBackend, type Backend, type Running } from './servers.js';
import { describeMachine, ensureFiles, ensureTools, type BenchFiles } from './setup.js';

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Target extends Running {
  pids: number[];
}

interface BackendSet {
  name: 'static' | 'registry';
  backends: Backend[];
}

interface Paths {
  small: string;
  big: string;
}

async function smallRound(target: Target, paths: Paths, options: BenchOptions): Promise<SmallRound> {
  const { result, usage } = await measureWhile(target.pids, () =>
    wrk({ url: `${target.url}${paths.small}`, seconds: options.seconds, connections: options.connections, threads: options.threads }),
  );
  const measured = target.pids.length > 0;
  return {
    rps: result.requests / (result.durationUs / 1e6),
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    cpuUsPerReq: measured ? (usage.cpuSeconds * 1e6) / result.requests : null,
    peakRssMiB: measured ? usage.peakRssMiB : null,
    failed: failedRequests(result),
  };
}

async function blobRound(target: Target, paths: Paths, bigBytes: number): Promise<BlobRound> {
  const { result, usage } = await measureWhile(target.pids, () => download(`${target.url}${paths.big}`), 20);
  const measured = target.pids.length > 0;
  return {
    mbPerS: result.bytes / result.seconds / 1e6,
    peakRssMiB: measured ? usage.peakRssMiB : null,
    peakProcessRssMiB: measured ? usage.peakProcessRssMiB : null,
    cpuSPerGiB: measured && result.bytes > 0 ? usage.cpuSeconds / (result.bytes / 2 ** 30) : null,
    ok: result.status === 200 && result.bytes === bigBytes,
  };
}

interface SetResult {
  rows: TargetSummary[];
  small: Record<string, SmallRound[]>;
  blob: Record<string, BlobRound[]>;
}

/** Starts every proxy in front of the set's backends, then measures all of them in interleaved rounds. */
async function measureSet(set: BackendSet, files: BenchFiles, options: BenchOptions, scratch: string): Promise<SetResult> {
  const paths = { small: blobPath(files.small.digest), big: blobPath(files.big.digest) };
  const targets: Target[] = [];
  const small = new Map<string, SmallRound[]>();
  const blob = new Map<string, BlobRound[]>();
  try {
    // A static backend checks no signature: a redirect row there would measure nothing real.
    for (const name of options.targets.filter((t) => set.name === 'registry' || t !== 'ha-proxy-redirect')) {
      const running =
        name === 'direct'
          ? { name, url: set.backends[0].url, stop: async () => {} }
          : await startProxy({ kind: name, backends: set.backends, workers: options.workers, scratch, haProxyArgs: options.haProxyArgs, readyPath: paths.small });
      targets.push({ ...running, pids: [] });
    }
    // Warm-up: JIT, connection pools and worker processes, before any pid list is taken.
    for (const t of targets) {
      await wrk({ url: `${t.url}${paths.small}`, seconds: 1, connections: options.connections, threads: options.threads });
      t.pids = t.proc?.child.pid === undefined ? [] : processTree(t.proc.child.pid);
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const t of rotation(targets, round)) {
        const r = await smallRound(t, paths, options);
        small.set(t.name, [...(small.get(t.name) ?? []), r]);
        log(`${set.name} small round ${round + 1} ${t.name}: ${Math.round(r.rps)} req/s p99 ${r.p99Ms.toFixed(2)} ms cpu ${r.cpuUsPerReq?.toFixed(1) ?? '-'} us/req failed ${r.failed}`);
      }
    }
    for (let round = 0; round < options.blobRounds; round++) {
      for (const t of rotation(targets, round)) {
        const r = await blobRound(t, paths, files.big.size);
        blob.set(t.name, [...(blob.get(t.name) ?? []), r]);
        log(`${set.name} blob round ${round + 1} ${t.name}: ${Math.round(r.mbPerS)} MB/s peak RSS ${r.peakRssMiB?.toFixed(0) ?? '-'} MiB${r.ok ? '' : ' (FAILED)'}`);
      }
    }
  } finally {
    for (const t of targets) await t.stop();
  }
  const rows = withRatios(targets.map((t) => summarize(`${t.name} (${set.name})`, small.get(t.name) ?? [], blob.get(t.name) ?? [])), `haproxy (${set.name})`);
  return { rows, small: Object.fromEntries(small), blob: Object.fromEntries(blob) };
}

async function main(): Promise<void> {
  const parsed = parseBenchArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(BENCH_USAGE);
    return;
  }
  const options = parsed;
  const started = Date.now();
  ensureTools(log);
  log('preparing the 1 KiB and 512 MiB files');
  const files = ensureFiles(join(tmpdir(), 'ha-proxy-bench-files'));
  const scratch = mkdtempSync(join(tmpdir(), 'ha-proxy-bench-'));
  const machine = describeMachine();
  log(`workers ${options.workers}; wrk -t${options.threads} -c${options.connections} -d${options.seconds}s x ${options.rounds} rounds; load ${String(machine.loadAverage)}`);

  const results: Record<string, SetResult> = {};
  const staticBackends = [await startStaticBackend(files.dir, scratch), await startStaticBackend(files.dir, scratch)];
  try {
    results.static = await measureSet({ name: 'static', backends: staticBackends }, files, options, scratch);
  } finally {
    for (const b of staticBackends) await b.stop();
  }
  if (options.registry) {
    let registries: Backend[] | undefined;
    try {
      log('starting two built-in registry replicas and pushing the blobs');
      registries = await startBuiltinRegistries(files, scratch);
      results.registry = await measureSet({ name: 'registry', backends: registries }, files, options, scratch);
    } catch (err) {
      log(`built-in registry backend skipped: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    } finally {
      for (const b of registries ?? []) await b.stop();
    }
  }
  let failover: FailoverResult[] = [];
  if (options.failover) {
    // The Node floor has no health checks: there is no failover to measure.
    // Failover runs on static backends: no redirect row there either.
    const kinds = options.targets.filter((t): t is Exclude<typeof t, 'direct' | 'node-floor' | 'ha-proxy-redirect'> => t !== 'direct' && t !== 'node-floor' && t !== 'ha-proxy-redirect');
    failover = await runFailover(kinds, { ...options, files, scratch, log });
  }

  const workload = options.workload ? await runPullWorkload({ rounds: options.quick ? 1 : 3, workers: options.workers, log }) : [];

  const rows = Object.values(results).flatMap((r) => r.rows);
  const table = formatTable(rows);
  const failoverTable = failover.length > 0 ? formatFailoverTable(failover) : '';
  const workloadTable = workload.length > 0 ? formatWorkloadTable(workload) : '';
  process.stdout.write(`\n${table}\n\n${[failoverTable, workloadTable].filter((t) => t !== '').map((t) => `${t}\n\n`).join('')}`);
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const raw = { machine, options, seconds: (Date.now() - started) / 1000, rows, rounds: results, failover, workload, table, failoverTable, workloadTable };
  writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
  log(`raw results in ${file}; took ${Math.round((Date.now() - started) / 1000)} s`);
  rmSync(scratch, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
