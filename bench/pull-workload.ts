// A realistic pull workload: 16 clients pull the same 5-layer image (1, 5, 20, 50, 100 MiB
// layers) at once, like a fleet of nodes starting the same deployment. Measured through the
// embedded default (`ha-proxy --mode active-standby --data DIR`, nothing else), through HAProxy
// in front of the same replicas, and through the embedded default with routing.blobRedirect
// (blob bytes go from the replica to the client). Per target: image pulls per second, total
// MB/s, p99 pull time and peak RSS of the whole process tree (the replicas included, also for
// HAProxy: they do the serving).
//
//   npm run bench -- ...            (runs it at the end of the full benchmark; --no-workload skips it)
//   node dist/bench/pull-workload.js [--quick]
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/ports.js';
import { startHaProxy, startProcess, waitForHttp, type Managed } from '../test/helpers/processes.js';
import { measureWhile, processTree } from './proc-stats.js';
import { median } from './report.js';
import { rotation } from './rotation.js';
import { haproxyConf } from './server-configs.js';
import { BENCH_REPOSITORY, pushBlob } from './servers.js';

const LAYER_MIB = [1, 5, 20, 50, 100];
const CLIENTS = 16;
/** Blobs fetched at once per client: docker's max-concurrent-downloads default. */
const DOWNLOADS_PER_CLIENT = 3;
const TAG = 'workload';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export interface WorkloadOptions {
  /** Rounds of CLIENTS simultaneous pulls per target. */
  rounds: number;
  workers: number;
  log: (line: string) => void;
}

interface BlobFile {
  path: string;
  digest: string;
  size: number;
}

export interface WorkloadRow {
  target: string;
  pullsPerS: number;
  mbPerS: number;
  p99PullS: number;
  peakTreeRssMiB: number;
  /** The same peak as PSS: pages the tree's Node processes share (the node binary's) split among them. */
  peakTreePssMiB: number;
  failedPulls: number;
}

/** Random layers written once and reused across runs, with their digests cached beside them. */
function ensureLayers(dir: string): BlobFile[] {
  mkdirSync(dir, { recursive: true });
  const cache = join(dir, 'digests.json');
  const known = existsSync(cache) ? (JSON.parse(readFileSync(cache, 'utf8')) as Record<string, string>) : {};
  const layers = LAYER_MIB.map((mib) => {
    const path = join(dir, `layer-${mib}MiB`);
    const size = mib * 1024 * 1024;
    if (!existsSync(path) || statSync(path).size !== size || known[path] === undefined) {
      const hash = createHash('sha256');
      const fd = openSync(path, 'w');
      const chunk = randomBytes(1024 * 1024);
      for (let i = 0; i < mib; i++) {
        // Every MiB differs, and every layer: nothing can deduplicate them.
        chunk.writeUInt32LE(i, 0);
        chunk.writeUInt32LE(mib, 4);
        writeSync(fd, chunk);
        hash.update(chunk);
      }
      closeSync(fd);
      known[path] = `sha256:${hash.digest('hex')}`;
    }
    return { path, digest: known[path], size };
  });
  writeFileSync(cache, JSON.stringify(known));
  return layers;
}

interface Image {
  manifest: Buffer;
  /** Config first, then the layers. */
  blobs: { digest: string; size: number }[];
  bytes: number;
}

async function pushImage(base: string, layers: BlobFile[], scratch: string): Promise<Image> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
  const configFile = join(scratch, 'workload-config.json');
  writeFileSync(configFile, configBytes);
  const config = { path: configFile, digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: configBytes.length };
  for (const blob of [config, ...layers]) await pushBlob(base, blob);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
  }));
  const res = await fetch(`${base}/v2/${BENCH_REPOSITORY}/manifests/${TAG}`, { method: 'PUT', body: manifest, headers: { 'content-type': MANIFEST_TYPE } });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
  const blobs = [config, ...layers].map((b) => ({ digest: b.digest, size: b.size }));
  return { manifest, blobs, bytes: manifest.length + blobs.reduce((n, b) => n + b.size, 0) };
}

/**
 * GET into nothing, following redirects (a blob redirect leads to another origin); resolves with
 * the body size. A request on a reused keep-alive connection the server closed meanwhile is sent
 * again, as clients do (the proxy closes client connections idle for 5 s, and with redirects a
 * client's connection to it idles while a layer comes from the replica).
 */
function fetchDiscard(url: string, agent: Agent, headers: Record<string, string> = {}, redirects = 3, resend = true): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, headers }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined && redirects > 0) {
        res.resume();
        resolve(fetchDiscard(new URL(res.headers.location, url).toString(), agent, {}, redirects - 1));
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: ${status}`));
        return;
      }
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (resend && req.reusedSocket && err.code === 'ECONNRESET') resolve(fetchDiscard(url, agent, headers, redirects, false));
      else reject(err);
    });
  });
}

/** One image pull as a client does it: the manifest, then config and layers, three at a time. */
async function pullImage(base: string, image: Image, agent: Agent): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  let bytes = await fetchDiscard(`${base}/v2/${BENCH_REPOSITORY}/manifests/${TAG}`, agent, { accept: MANIFEST_TYPE });
  const queue = [...image.blobs];
  const worker = async (): Promise<void> => {
    for (let blob = queue.shift(); blob !== undefined; blob = queue.shift()) {
      const got = await fetchDiscard(`${base}/v2/${BENCH_REPOSITORY}/blobs/${blob.digest}`, agent);
      if (got !== blob.size) throw new Error(`blob ${blob.digest}: ${got} of ${blob.size} bytes`);
      bytes += got;
    }
  };
  await Promise.all(Array.from({ length: DOWNLOADS_PER_CLIENT }, worker));
  return { seconds: (performance.now() - started) / 1000, bytes };
}

interface Round {
  seconds: number;
  pullSeconds: number[];
  bytes: number;
  failed: number;
  /** Why the first failed pull failed, for the log. */
  firstError?: string;
  peakRssMiB: number;
  peakPssMiB: number;
}

/** CLIENTS pulls at once, each client with its own connections (as separate hosts have). */
async function pullRound(base: string, image: Image, pids: number[]): Promise<Round> {
  const agents = Array.from({ length: CLIENTS }, () => new Agent({ keepAlive: true, maxSockets: DOWNLOADS_PER_CLIENT }));
  const started = performance.now();
  try {
    const { result, usage } = await measureWhile(pids, () => Promise.allSettled(agents.map((agent) => pullImage(base, image, agent))), 100, 250);
    const done = result.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    return {
      seconds: (performance.now() - started) / 1000,
      pullSeconds: done.map((d) => d.seconds),
      bytes: done.reduce((n, d) => n + d.bytes, 0),
      failed: result.length - done.length,
      firstError: result.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message ?? r.reason)] : []))[0],
      peakRssMiB: usage.peakRssMiB,
      peakPssMiB: usage.peakPssMiB!,
    };
  } finally {
    for (const agent of agents) agent.destroy();
  }
}

/** The p-th percentile by nearest rank (with few samples, p99 is the slowest pull). */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(target: string, rounds: Round[]): WorkloadRow {
  return {
    target,
    pullsPerS: median(rounds.map((r) => r.pullSeconds.length / r.seconds)),
    mbPerS: median(rounds.map((r) => r.bytes / r.seconds / 1e6)),
    p99PullS: percentile(rounds.flatMap((r) => r.pullSeconds), 99),
    peakTreeRssMiB: Math.max(...rounds.map((r) => r.peakRssMiB)),
    peakTreePssMiB: Math.max(...rounds.map((r) => r.peakPssMiB)),
    failedPulls: rounds.reduce((n, r) => n + r.failed, 0),
  };
}

interface Embedded {
  url: string;
  proc: Managed;
  replicaPorts: number[];
  replicaPids: () => number[];
}

/** `ha-proxy --mode active-standby --data DIR`: the one-command HA registry, as a user starts it. */
async function startEmbedded(data: string, blobRedirect: boolean): Promise<Embedded> {
  const port = await freePort();
  const file = join(data, blobRedirect ? 'redirect.json' : 'default.json');
  const config = { mode: 'active-standby', listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${await freePort()}`, logLevel: 'warn' };
  writeFileSync(file, JSON.stringify(blobRedirect ? { ...config, routing: { blobRedirect: { enabled: true } } } : config));
  const proc = startHaProxy(['--config', file, '--data', data]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 120_000 });
  const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports.map((p) => p.listen);
  const replicaPids = () => ['replica-1', 'replica-2'].flatMap((name) => processTree(Number(readFileSync(join(data, `${name}.pid`), 'utf8'))));
  return { url, proc, replicaPorts: ports, replicaPids };
}

async function startHaproxyFront(ports: number[], workers: number, scratch: string): Promise<{ url: string; proc: Managed }> {
  const port = await freePort();
  const dir = join(scratch, `haproxy-${port}`);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, haproxyConf({ listenPort: port, backendPorts: ports, workers, dir }));
  const proc = startProcess('haproxy', ['-db', '-f', conf]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 60_000 });
  return { url, proc };
}

interface Target {
  name: string;
  url: string;
  pids: () => number[];
  /** What the target's processes printed, to show why pulls failed (e.g. a replica marked DOWN). */
  output: () => string;
}

async function measureTargets(targets: Target[], image: Image, options: WorkloadOptions): Promise<WorkloadRow[]> {
  // Warm-up: one pull each (JIT, connection pools, page cache).
  for (const t of targets) {
    const agent = new Agent({ keepAlive: true });
    await pullImage(t.url, image, agent).finally(() => agent.destroy());
  }
  const rounds = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const t of rotation(targets, round)) {
      const r = await pullRound(t.url, image, t.pids());
      rounds.get(t.name)!.push(r);
      if (r.failed > 0) for (const line of t.output().split('\n').filter((l) => /DOWN|error/i.test(l)).slice(-3)) options.log(`  ${t.name}: ${line.slice(0, 300)}`);
      options.log(`workload round ${round + 1} ${t.name}: ${(r.pullSeconds.length / r.seconds).toFixed(2)} pulls/s, ${Math.round(r.bytes / r.seconds / 1e6)} MB/s, slowest ${Math.max(...r.pullSeconds).toFixed(1)} s, peak RSS ${Math.round(r.peakRssMiB)} MiB, PSS ${Math.round(r.peakPssMiB)} MiB, failed ${r.failed}${r.firstError ? ` (${r.firstError})` : ''}`);
    }
  }
  return targets.map((t) => summarize(t.name, rounds.get(t.name)!));
}

export async function runPullWorkload(options: WorkloadOptions): Promise<WorkloadRow[]> {
  const layers = ensureLayers(join(tmpdir(), 'ha-proxy-bench-workload'));
  const scratch = mkdtempSync(join(tmpdir(), 'ha-proxy-workload-'));
  const data = join(scratch, 'data');
  mkdirSync(data);
  const rows: WorkloadRow[] = [];
  try {
    let embedded = await startEmbedded(data, false);
    let image: Image;
    let haproxy: { url: string; proc: Managed } | undefined;
    try {
      options.log(`workload: pushing the image (${LAYER_MIB.join(', ')} MiB layers) through the embedded default`);
      image = await pushImage(embedded.url, layers, scratch);
      haproxy = await startHaproxyFront(embedded.replicaPorts, options.workers, scratch);
      const e = embedded;
      const h = haproxy;
      rows.push(...(await measureTargets([
        { name: 'ha-proxy embedded default', url: e.url, pids: () => processTree(e.proc.child.pid!), output: e.proc.output },
        { name: 'haproxy -> same replicas', url: h.url, pids: () => [...processTree(h.proc.child.pid!), ...e.replicaPids()], output: () => `${h.proc.output()}\n${e.proc.output()}` },
      ], image, options)));
    } finally {
      await haproxy?.proc.stop();
      await embedded.proc.stop();
    }
    // The same replicas and storage, now accepting the proxy's signed blob URLs.
    embedded = await startEmbedded(data, true);
    try {
      const e = embedded;
      rows.push(...(await measureTargets([{ name: 'ha-proxy embedded + blobRedirect', url: e.url, pids: () => processTree(e.proc.child.pid!), output: e.proc.output }], image, options)));
    } finally {
      await embedded.proc.stop();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-');

export function formatWorkloadTable(rows: WorkloadRow[]): string {
  const lines = [
    `| ${CLIENTS} clients x image of ${LAYER_MIB.join('+')} MiB | image pulls/s | total MB/s | p99 pull s | peak RSS MiB (whole tree) | peak PSS MiB (whole tree) | failed pulls |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) lines.push(`| ${r.target} | ${fmt(r.pullsPerS, 2)} | ${fmt(r.mbPerS)} | ${fmt(r.p99PullS, 1)} | ${fmt(r.peakTreeRssMiB)} | ${fmt(r.peakTreePssMiB)} | ${r.failedPulls} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const log = (line: string): void => void process.stderr.write(`[workload] ${line}\n`);
  runPullWorkload({ rounds: quick ? 1 : 3, workers: availableParallelism(), log }).then(
    (rows) => process.stdout.write(`\n${formatWorkloadTable(rows)}\n`),
    (err: unknown) => {
      process.stderr.write(`workload failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
