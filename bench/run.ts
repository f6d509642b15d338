// `npm run bench`: ha-proxy beside HAProxy and nginx (and the backend direct), all running at
// once and measured in interleaved rounds so a noisy neighbour hits every target alike. Prints
// one table with ratios to HAProxy from this run and writes the raw rounds as JSON.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFailover } from './failover.js';
import { download, failedRequests, wrk } from './load.js';
import { BENCH_USAGE, parseBenchArgs, type BenchOptions, type TargetName } from './options.js';
import { measureWhile, processTree } from './proc-stats.js';
import { formatFailoverTable, formatTable, summarize, withRatios, type BlobRound, type FailoverResult, type SmallRound } from './report.js';
import { BIG_PATH, SMALL_PATH, startProxy, startStaticBackend, type Running } from './servers.js';
import { BIG_BYTES, describeMachine, ensureFiles, ensureTools } from './setup.js';

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Target extends Running {
  pids: number[];
}

async function startTargets(options: BenchOptions, filesDir: string, scratch: string): Promise<{ targets: Target[]; stopAll: () => Promise<void> }> {
  const backends = [await startStaticBackend(filesDir, scratch), await startStaticBackend(filesDir, scratch)];
  const targets: Target[] = [];
  for (const name of options.targets) {
    const running =
      name === 'direct'
        ? { name, url: backends[0].url, stop: async () => {} }
        : await startProxy({ kind: name, backends, workers: options.workers, scratch, haProxyArgs: options.haProxyArgs });
    targets.push({ ...running, pids: [] });
  }
  const stopAll = async (): Promise<void> => {
    for (const t of targets) await t.stop();
    for (const b of backends) await b.stop();
  };
  return { targets, stopAll };
}

/** Each round visits every target, starting one further along, so no target always goes first. */
export function rotation<T>(items: T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function smallRound(target: Target, options: BenchOptions): Promise<SmallRound> {
  const { result, usage } = await measureWhile(target.pids, () =>
    wrk({ url: `${target.url}${SMALL_PATH}`, seconds: options.seconds, connections: options.connections, threads: options.threads }),
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

async function blobRound(target: Target): Promise<BlobRound> {
  const { result, usage } = await measureWhile(target.pids, () => download(`${target.url}${BIG_PATH}`), 20);
  const measured = target.pids.length > 0;
  return {
    mbPerS: result.bytes / result.seconds / 1e6,
    peakRssMiB: measured ? usage.peakRssMiB : null,
    peakProcessRssMiB: measured ? usage.peakProcessRssMiB : null,
    ok: result.status === 200 && result.bytes === BIG_BYTES,
  };
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
  const filesDir = join(tmpdir(), 'ha-proxy-bench-files');
  log('preparing the 1 KiB and 512 MiB files');
  ensureFiles(filesDir);
  const scratch = mkdtempSync(join(tmpdir(), 'ha-proxy-bench-'));
  const machine = describeMachine();
  log(`workers ${options.workers}; wrk -t${options.threads} -c${options.connections} -d${options.seconds}s x ${options.rounds} rounds; load ${String(machine.loadAverage)}`);

  const { targets, stopAll } = await startTargets(options, filesDir, scratch);
  const small = new Map<TargetName | string, SmallRound[]>();
  const blob = new Map<TargetName | string, BlobRound[]>();
  let failover: FailoverResult[] = [];
  try {
    // Warm-up: JIT, connection pools and worker processes, before any pid list is taken.
    for (const t of targets) {
      await wrk({ url: `${t.url}${SMALL_PATH}`, seconds: 1, connections: options.connections, threads: options.threads });
      t.pids = t.proc?.child.pid === undefined ? [] : processTree(t.proc.child.pid);
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const t of rotation(targets, round)) {
        const r = await smallRound(t, options);
        small.set(t.name, [...(small.get(t.name) ?? []), r]);
        log(`small round ${round + 1} ${t.name}: ${Math.round(r.rps)} req/s p99 ${r.p99Ms.toFixed(2)} ms cpu ${r.cpuUsPerReq?.toFixed(1) ?? '-'} us/req failed ${r.failed}`);
      }
    }
    for (let round = 0; round < options.blobRounds; round++) {
      for (const t of rotation(targets, round)) {
        const r = await blobRound(t);
        blob.set(t.name, [...(blob.get(t.name) ?? []), r]);
        log(`blob round ${round + 1} ${t.name}: ${Math.round(r.mbPerS)} MB/s peak RSS ${r.peakRssMiB?.toFixed(0) ?? '-'} MiB${r.ok ? '' : ' (FAILED)'}`);
      }
    }
  } finally {
    await stopAll();
  }
  if (options.failover) {
    const kinds = options.targets.filter((t): t is Exclude<TargetName, 'direct'> => t !== 'direct');
    failover = await runFailover(kinds, { ...options, filesDir, scratch, log });
  }

  const rows = withRatios(targets.map((t) => summarize(t.name, small.get(t.name) ?? [], blob.get(t.name) ?? [])));
  const table = formatTable(rows);
  const failoverTable = failover.length > 0 ? formatFailoverTable(failover) : '';
  process.stdout.write(`\n${table}\n\n${failoverTable}${failoverTable ? '\n' : ''}`);
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const raw = { machine, options, seconds: (Date.now() - started) / 1000, rows, small: Object.fromEntries(small), blob: Object.fromEntries(blob), failover, table, failoverTable };
  writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
  log(`raw results in ${file}; took ${Math.round((Date.now() - started) / 1000)} s`);
  rmSync(scratch, { recursive: true, force: true });
  await sleep(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
