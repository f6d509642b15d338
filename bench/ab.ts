// Interleaved A/B of ha-proxy variants, for deciding whether a change to the hot path is kept:
// `node dist/bench/ab.js --variant 'base|/tmp/base/bin/ha-proxy.js' --variant 'new||MALLOC_X=1|--flag'`.
// A variant is `name|cli|env|args|nodeArgs`: its launcher (empty: this checkout's), extra
// environment (space-separated K=V), extra ha-proxy flags and node flags (the workers inherit
// them). Every variant runs behind
// the same two static nginx backends, all started before the first round; each round measures
// every variant in turn, each round starting one further along (idle RSS, small GETs, 512 MiB
// downloads), so load on the shared machine
// hits all of them alike. `--floor` adds the Node floor (node-floor.ts) as one more variant, to
// compare against what any Node proxy costs (a variant whose launcher is `floor` runs the floor
// too, e.g. with NODE_FLOOR_FORWARDED=1 in its environment); `--threads` sets wrk's threads (the
// full bench uses 2); `--registry` puts two built-in registry replicas
// behind every variant instead of nginx. Prints medians and per-round figures; writes nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/ports.js';
import { startProcess, waitForHttp, type Managed } from '../test/helpers/processes.js';
import { download, wrk } from './load.js';
import { measureWhile, processTree, sampleTree } from './proc-stats.js';
import { fileURLToPath } from 'node:url';
import { blobPath, startBuiltinRegistries, startStaticBackend, type Backend } from './servers.js';
import { rotation } from './rotation.js';
import { ensureFiles } from './setup.js';

interface Variant {
  name: string;
  cli: string;
  env: Record<string, string>;
  args: string[];
  nodeArgs: string[];
}

interface Sample {
  idleWorkerMiB: number;
  reqPerSec: number;
  cpuUsPerReq: number;
  p99Ms: number;
  mbPerSec: number;
  cpuSecPerGiB: number;
  blobPeakWorkerMiB: number;
}

function parseVariant(spec: string): Variant {
  const [name, cli, env, args, nodeArgs] = spec.split('|');
  return {
    name,
    cli: cli === 'floor' ? FLOOR : cli || join(process.cwd(), 'bin/ha-proxy.js'),
    env: Object.fromEntries((env ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    args: (args ?? '').split(' ').filter(Boolean),
    nodeArgs: (nodeArgs ?? '').split(' ').filter(Boolean),
  };
}

/** VmRSS of the largest process but the root (the workers; the primary serves no traffic). */
function workerRssMiB(pids: number[]): number {
  const workers = pids.length > 1 ? pids.slice(1) : pids;
  return sampleTree(workers).maxProcessRssMiB;
}

const FLOOR = fileURLToPath(new URL('./node-floor.js', import.meta.url));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      downloads: { type: 'string', default: '2' },
      workers: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      'no-small': { type: 'boolean' },
      'no-blob': { type: 'boolean' },
      floor: { type: 'boolean' },
      registry: { type: 'boolean' },
    },
  });
  const variants = (values.variant ?? []).map(parseVariant);
  if (variants.length === 0) throw new Error('give at least one --variant name|cli|env|args');
  const files = ensureFiles(join(tmpdir(), 'ha-proxy-bench-files'));
  const scratch = mkdtempSync(join(tmpdir(), 'ha-proxy-ab-'));
  const backends: Backend[] = values.registry
    ? await startBuiltinRegistries(files, scratch)
    : [await startStaticBackend(files.dir, scratch), await startStaticBackend(files.dir, scratch)];
  if (values.floor) variants.push({ name: 'node-floor', cli: FLOOR, env: {}, args: [], nodeArgs: [] });
  const small = blobPath(files.small.digest);
  const big = blobPath(files.big.digest);
  const procs: { v: Variant; url: string; proc: Managed; pids: number[] }[] = [];
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  try {
    for (const v of variants) {
      const port = await freePort();
      const args = ['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn', '--workers', values.workers!];
      for (const b of backends) args.push('--backend', b.url);
      // The floor forwards GETs to the first backend only: it has no failover to offer.
      const argv = v.cli === FLOOR ? [...v.nodeArgs, FLOOR, String(port), values.workers!, backends[0].url] : [...v.nodeArgs, v.cli, ...args, ...v.args];
      const proc = startProcess(process.execPath, argv, { env: { ...process.env, ...v.env } });
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}${small}`, { proc, statuses: [200], timeoutMs: 60_000 });
      procs.push({ v, url, proc, pids: processTree(proc.child.pid!) });
    }
    // Let start-up garbage settle before the first idle reading.
    await new Promise((r) => setTimeout(r, 2000));
    for (let round = 0; round < Number(values.rounds); round++) {
      // The variant measured first in a round did better by 10-20% on small requests, whichever it
      // was (two runs in both orders): each round starts one variant further along.
      for (const p of rotation(procs, round)) {
        const s: Sample = { idleWorkerMiB: workerRssMiB(p.pids), reqPerSec: 0, cpuUsPerReq: 0, p99Ms: 0, mbPerSec: 0, cpuSecPerGiB: 0, blobPeakWorkerMiB: 0 };
        if (!values['no-small']) {
          const { result, usage } = await measureWhile(p.pids, () =>
            wrk({ url: `${p.url}${small}`, seconds: Number(values.seconds), connections: Number(values.connections), threads: Number(values.threads) }),
          );
          s.reqPerSec = result.requests / (result.durationUs / 1e6);
          s.cpuUsPerReq = (usage.cpuSeconds * 1e6) / result.requests;
          s.p99Ms = result.p99Us / 1000;
        }
        if (!values['no-blob']) {
          let bytes = 0;
          let seconds = 0;
          const { usage } = await measureWhile(p.pids, async () => {
            for (let i = 0; i < Number(values.downloads); i++) {
              const d = await download(`${p.url}${big}`);
              if (d.status !== 200 || d.bytes !== files.big.size) throw new Error(`${p.v.name}: download gave ${d.status}, ${d.bytes} bytes`);
              bytes += d.bytes;
              seconds += d.seconds;
            }
          }, 20);
          s.mbPerSec = bytes / 1e6 / seconds;
          s.cpuSecPerGiB = usage.cpuSeconds / (bytes / 2 ** 30);
          s.blobPeakWorkerMiB = usage.peakProcessRssMiB;
        }
        samples.get(p.v.name)!.push(s);
        process.stdout.write(`round ${round + 1} ${p.v.name}: ${JSON.stringify(s, (_k, x: unknown) => (typeof x === 'number' ? Math.round(x * 10) / 10 : x))}\n`);
      }
    }
  } finally {
    for (const p of procs) await p.proc.stop('SIGTERM');
    for (const b of backends) await b.stop();
  }
  const keys = ['idleWorkerMiB', 'reqPerSec', 'cpuUsPerReq', 'p99Ms', 'mbPerSec', 'cpuSecPerGiB', 'blobPeakWorkerMiB'] as const;
  process.stdout.write(`\nmedians\n${['variant', ...keys].join('\t')}\n`);
  for (const [name, list] of samples) {
    process.stdout.write(`${[name, ...keys.map((k) => median(list.map((s) => s[k])).toFixed(1))].join('\t')}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
