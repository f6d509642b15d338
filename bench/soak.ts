// Memory soak, run by hand (not in the suite): a steady pull load through `ha-proxy --workers N`
// in active-standby over two built-in registry replicas, RSS of every process sampled every
// `--sample-seconds`, heap snapshots of the proxy workers after warm-up, at the end of the load and
// after an idle phase, and the per-constructor growth between the first and the last snapshot.
//
//   npm run soak -- --minutes 20 [--workers 2] [--connections 16] [--fresh-connections] [--idle-minutes 2]
//
// Writes samples (JSONL), snapshots and a summary under --out (default bench/results/soak-<time>).
import { mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { buildImageLayout } from '../test/helpers/oci-layout.js';
import { freePort } from '../test/helpers/ports.js';
import { startHaProxy, waitForHttp } from '../test/helpers/processes.js';
import { pushLayoutBlobs, putLayoutManifest } from '../test/helpers/push-layout.js';
import { startReplicaSet } from '../test/helpers/replicas.js';
import { processTree, sampleTree } from './proc-stats.js';
import { heapGrowth, summariseHeapSnapshot } from './heap-summary.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    'idle-minutes': { type: 'string', default: '2' },
    'sample-seconds': { type: 'string', default: '30' },
    workers: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    // A new TCP connection per request (connection churn) instead of keep-alive.
    'fresh-connections': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
const out = resolve(args.out ?? `bench/results/soak-${new Date().toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(out, { recursive: true });

const replicas = await startReplicaSet(2, { replication: { ack: 'all' } });
const port = await freePort();
const adminPort = await freePort();
// Heap snapshots on SIGUSR2 (written synchronously into the cwd by the process signalled).
const proxy = startHaProxy(
  ['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', args.workers, '--log-level', 'warn', ...replicas.flatMap((r) => ['--backend', r.url])],
  { cwd: out, env: { ...process.env, NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' } },
);
const base = `http://127.0.0.1:${port}`;
await waitForHttp(`http://127.0.0.1:${adminPort}/readyz`, { proc: proxy, statuses: [200], timeoutMs: 60_000 });

const layout = buildImageLayout({ layerSizes: [4096, 256 * 1024], tag: 'v1' });
await pushLayoutBlobs(base, 'soak/app', layout);
const put = await putLayoutManifest(base, 'soak/app', 'v1', layout);
if (put.status !== 201) throw new Error(`push: ${put.status} ${await put.text()}`);
const paths = [`/v2/soak/app/manifests/v1`, ...[...layout.blobs.keys()].filter((d) => d !== layout.digest).map((d) => `/v2/soak/app/blobs/${d}`)];

const proxyPid = proxy.child.pid!;
const workerPids = (): number[] => processTree(proxyPid).filter((pid) => pid !== proxyPid);
const counts = { ok: 0, failed: 0 };
let loading = true;
const dispatcher = new Agent({ connections: Number(args.connections), keepAliveTimeout: 30_000 });
async function puller(offset: number): Promise<void> {
  for (let i = offset; loading; i++) {
    try {
      const res = await request(`${base}${paths[i % paths.length]}`, { dispatcher, reset: args['fresh-connections'], headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      await res.body.dump({ limit: Number.POSITIVE_INFINITY });
      if (res.statusCode === 200) counts.ok++;
      else counts.failed++;
    } catch {
      counts.failed++;
    }
  }
}

const samplesFile = join(out, 'samples.jsonl');
const started = Date.now();
function sample(phase: string): void {
  const mib = (pid: number) => Math.round(sampleTree([pid]).rssMiB * 10) / 10;
  const line = {
    minute: Math.round((Date.now() - started) / 600) / 100,
    phase,
    requests: counts.ok,
    failed: counts.failed,
    primaryMiB: mib(proxyPid),
    workersMiB: workerPids().map(mib),
    replicasMiB: replicas.map((r) => mib(r.child.pid!)),
  };
  appendFileSync(samplesFile, `${JSON.stringify(line)}\n`);
  console.log(JSON.stringify(line));
}

/** SIGUSR2 to every worker, then waits until each has written its snapshot. */
async function snapshotWorkers(label: string): Promise<void> {
  const before = new Set(readdirSync(out));
  const pids = workerPids();
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const fresh = readdirSync(out).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (fresh.length >= pids.length) {
      await sleep(2000); // the file appears before it is complete
      for (const f of fresh) writeFileSync(join(out, `${f}.label`), label);
      return;
    }
    await sleep(500);
  }
  console.error(`snapshot ${label}: not every worker wrote one`);
}

const sampleMs = Number(args['sample-seconds']) * 1000;
const load = Array.from({ length: Number(args.connections) }, (_, i) => puller(i));
await sleep(60_000); // warm-up: JIT, caches, pools at their working size
sample('load');
await snapshotWorkers('after warm-up');
const loadEnds = started + minutes * 60_000;
while (Date.now() < loadEnds) {
  await sleep(Math.min(sampleMs, Math.max(0, loadEnds - Date.now())));
  sample('load');
}
await snapshotWorkers('end of load');
loading = false;
await Promise.all(load);
const idleEnds = Date.now() + Number(args['idle-minutes']) * 60_000;
while (Date.now() < idleEnds) {
  await sleep(Math.min(sampleMs, Math.max(0, idleEnds - Date.now())));
  sample('idle');
}
await snapshotWorkers('after idle');

const snapshots = readdirSync(out).filter((f) => f.endsWith('.heapsnapshot')).sort();
const byPid = new Map<string, string[]>();
for (const f of snapshots) {
  const pid = f.split('.')[3] ?? '?'; // Heap.<date>.<time>.<pid>.<thread>.<seq>.heapsnapshot
  byPid.set(pid, [...(byPid.get(pid) ?? []), f]);
}
const report: string[] = [];
for (const [pid, files] of byPid) {
  const heaps = files.map((f) => summariseHeapSnapshot(readFileSync(join(out, f), 'utf8')));
  const labels = files.map((f) => readFileSync(join(out, `${f}.label`), 'utf8'));
  report.push(`worker ${pid}: heap ${heaps.map((h) => (h.totalBytes / 2 ** 20).toFixed(1)).join(' -> ')} MiB (${labels.join(' / ')})`);
  // What grew while under load: the snapshot after warm-up against the one at the end of the load.
  for (const g of heapGrowth(heaps[0], heaps[Math.min(1, heaps.length - 1)], 15)) report.push(`  ${g.name}: ${g.countDelta >= 0 ? '+' : ''}${g.countDelta} objects, ${(g.bytesDelta / 1024).toFixed(1)} KiB`);
}
writeFileSync(join(out, 'summary.txt'), `${report.join('\n')}\n`);
console.log(report.join('\n'));
await proxy.stop('SIGTERM');
await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
await dispatcher.close();
