// The built-in registry beside Debian's docker-registry (distribution 2.8), in one run on the same
// machine: 512 MiB blob upload and download MB/s, manifest GET and blob HEAD requests per second.
// Targets are measured in alternating rounds so a noisy neighbour hits both alike. `--s3` adds
// the storage layer on S3 (radosgw) beside the filesystem (bench/s3-storage.ts); `--s3-only`
// runs only that.
//   node dist/bench/registry-bench.js [--rounds N] [--seconds S] [--connections C] [--blob-mib M] [--scratch DIR]
//                                     [--s3 | --s3-only] [--s3-blob-mib M]
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import { startDockerRegistry } from '../test/helpers/docker-registry.js';
import { freePort } from '../test/helpers/ports.js';
import { startHaProxy, waitForHttp, type Managed } from '../test/helpers/processes.js';
import { storageBench } from './s3-storage.js';

const runFile = promisify(execFile);
const log = (line: string): void => void process.stderr.write(`[registry-bench] ${line}\n`);

/** CPU seconds (user + system) a process has used so far: a load-independent cost measure. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; after the ") " split they are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs fn and returns its result with the CPU seconds the target process spent meanwhile. */
async function withCpu<T>(pid: number | undefined, fn: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const before = cpuSeconds(pid);
  const value = await fn();
  return { value, cpu: cpuSeconds(pid) - before };
}

interface Target {
  name: string;
  url: string;
  proc: Managed;
  storage: string;
}

function httpCall(method: string, url: string, options: { headers?: Record<string, string | number>; body?: Buffer | string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: options.headers }, (res) => {
      let bytes = 0;
      const keep: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keep.length < 4) keep.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: Buffer.concat(keep).toString('utf8').slice(0, 2000) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function makeBlobFile(dir: string, mib: number): Promise<{ path: string; digest: string; size: number }> {
  const path = join(dir, 'blob.bin');
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    // Vary each MiB so no layer of the stack can deduplicate or compress it.
    chunk.writeUInt32LE(i, 0);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return { path, digest: `sha256:${hash.digest('hex')}`, size: mib * 1024 * 1024 };
}

/** curl as the blob client: a native client, so the client's own cost does not cap the figures. */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await runFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', ...args], { maxBuffer: 1024 * 1024 });
  return stdout;
}

async function upload(target: Target, repo: string, blob: { path: string; digest: string; size: number }): Promise<number> {
  const started = performance.now();
  const post = await httpCall('POST', `${target.url}/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': 0 } });
  if (post.status !== 202) throw new Error(`${target.name}: POST ${post.status} ${post.body}`);
  const location = new URL(String(post.headers.location), target.url);
  location.searchParams.set('digest', blob.digest);
  const out = await curl(['-X', 'PUT', '-H', 'content-type: application/octet-stream', '-T', blob.path, location.href]);
  if (!out.startsWith('201')) throw new Error(`${target.name}: PUT answered ${out}`);
  return blob.size / 1e6 / ((performance.now() - started) / 1000);
}

async function download(target: Target, repo: string, blob: { digest: string; size: number }): Promise<number> {
  const started = performance.now();
  const out = await curl([`${target.url}/v2/${repo}/blobs/${blob.digest}`]);
  if (out !== `200 ${blob.size}`) throw new Error(`${target.name}: GET answered ${out}`);
  return blob.size / 1e6 / ((performance.now() - started) / 1000);
}

/** Pushes a config blob and a manifest; returns the manifest digest. */
async function pushSmallImage(target: Target, repo: string): Promise<{ manifestDigest: string; configDigest: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const post = await httpCall('POST', `${target.url}/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': 0 } });
  const location = new URL(String(post.headers.location), target.url);
  location.searchParams.set('digest', configDigest);
  const put = await httpCall('PUT', location.href, { body: config, headers: { 'content-type': 'application/octet-stream', 'content-length': config.length } });
  if (put.status !== 201) throw new Error(`${target.name}: config PUT ${put.status} ${put.body}`);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [],
  });
  const res = await httpCall('PUT', `${target.url}/v2/${repo}/manifests/v1`, {
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': Buffer.byteLength(manifest) },
  });
  if (res.status !== 201) throw new Error(`${target.name}: manifest PUT ${res.status} ${res.body}`);
  return { manifestDigest: String(res.headers['docker-content-digest']), configDigest };
}

/**
 * HEAD load from Node's own HTTP client over keep-alive sockets: autocannon (like Debian's wrk,
 * wg/wrk#198) waits for a body after a HEAD response that carries Content-Length.
 */
async function headLoad(url: string, seconds: number, connections: number): Promise<{ rps: number; errors: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const deadline = performance.now() + seconds * 1000;
  let ok = 0;
  let errors = 0;
  const latencies: number[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(url, { method: 'HEAD', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else errors++;
          if (latencies.length < 200_000) latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rps: ok / elapsed, errors, p99: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0) };
}

async function rps(url: string, method: 'GET' | 'HEAD', seconds: number, connections: number, headers: Record<string, string> = {}): Promise<{ rps: number; errors: number; p99: number }> {
  if (method === 'HEAD') return headLoad(url, seconds, connections);
  const result = await autocannon({ url, method, headers, connections, duration: seconds, pipelining: 1 });
  const bad = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.total / (result.duration || seconds), errors: bad, p99: result.latency.p99 };
}

interface Series {
  up: number[];
  down: number[];
  manifest: number[];
  head: number[];
  upCpu: number[];
  downCpu: number[];
  manifestCpu: number[];
  headCpu: number[];
  errors: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '8' },
      connections: { type: 'string', default: '32' },
      'blob-mib': { type: 'string', default: '512' },
      // e.g. /dev/shm, to take the disk out and compare the software paths alone.
      scratch: { type: 'string', default: tmpdir() },
      s3: { type: 'boolean', default: false },
      's3-only': { type: 'boolean', default: false },
      // memstore keeps the S3 server's data in RAM (2 GiB by default).
      's3-blob-mib': { type: 'string', default: '256' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const s3 = values.s3 || values['s3-only'] ? { rounds, seconds, concurrency: connections, blobMib: Number(values['s3-blob-mib']), scratch: values.scratch, log } : undefined;
  if (s3 && values['s3-only']) {
    process.stdout.write(`${await storageBench(s3)}\n`);
    return;
  }
  const scratch = mkdtempSync(join(values.scratch, 'registry-bench-'));
  log(`writing a ${values['blob-mib']} MiB random blob`);
  const blob = await makeBlobFile(scratch, Number(values['blob-mib']));

  const ours = join(scratch, 'ha-proxy');
  const port = await freePort();
  const proc = startHaProxy(['--mode', 'registry', '--listen', `127.0.0.1:${port}`, '--storage', ours, '--admin-listen', `127.0.0.1:${await freePort()}`]);
  proc.child.stdout?.resume();
  await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc, statuses: [200] });
  const dr = await startDockerRegistry({ storage: join(scratch, 'docker-registry') });
  const targets: Target[] = [
    { name: 'ha-proxy registry', url: `http://127.0.0.1:${port}`, proc, storage: ours },
    { name: 'docker-registry', url: dr.url, proc: dr, storage: dr.storage },
  ];
  const results = new Map<string, Series>();
  for (const t of targets) results.set(t.name, { up: [], down: [], manifest: [], head: [], upCpu: [], downCpu: [], manifestCpu: [], headCpu: [], errors: 0 });
  try {
    const small = new Map<string, { manifestDigest: string; configDigest: string }>();
    for (const t of targets) small.set(t.name, await pushSmallImage(t, 'bench/small'));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const r = results.get(t.name)!;
        const pid = t.proc.child.pid;
        const repo = `bench/big${round}`;
        const mib = blob.size / 1024 / 1024;
        const up = await withCpu(pid, () => upload(t, repo, blob));
        r.up.push(up.value);
        r.upCpu.push((up.cpu * 1000) / mib);
        const down = await withCpu(pid, () => download(t, repo, blob));
        r.down.push(down.value);
        r.downCpu.push((down.cpu * 1000) / mib);
        const s = small.get(t.name)!;
        const mc = await withCpu(pid, () => rps(`${t.url}/v2/bench/small/manifests/v1`, 'GET', seconds, connections, { accept: 'application/vnd.oci.image.manifest.v1+json' }));
        const hc = await withCpu(pid, () => rps(`${t.url}/v2/bench/small/blobs/${s.configDigest}`, 'HEAD', seconds, connections));
        const m = mc.value;
        const h = hc.value;
        r.manifest.push(m.rps);
        r.head.push(h.rps);
        r.manifestCpu.push((mc.cpu * 1e6) / (m.rps * seconds));
        r.headCpu.push((hc.cpu * 1e6) / (h.rps * seconds));
        r.errors += m.errors + h.errors;
        log(`round ${round + 1} ${t.name}: up ${r.up.at(-1)!.toFixed(0)} MB/s, down ${r.down.at(-1)!.toFixed(0)} MB/s, manifest GET ${m.rps.toFixed(0)}/s (p99 ${m.p99} ms), blob HEAD ${h.rps.toFixed(0)}/s (p99 ${h.p99} ms)`);
      }
    }
  } finally {
    for (const t of targets) await t.proc.stop();
  }
  const ourR = results.get(targets[0].name)!;
  const theirR = results.get(targets[1].name)!;
  const row = (label: string, a: number[], b: number[], unit: string, higherIsBetter = true) => {
    const ratio = higherIsBetter ? median(a) / median(b) : median(b) / median(a);
    return `| ${label} | ${median(a).toFixed(unit.startsWith('CPU') ? 1 : 0)} ${unit} | ${median(b).toFixed(unit.startsWith('CPU') ? 1 : 0)} ${unit} | ${ratio.toFixed(2)}x |`;
  };
  const table = [
    `| medians of ${rounds} rounds (${blob.size / 1024 / 1024} MiB blob, ${connections} connections, ${seconds} s) | ha-proxy registry | docker-registry | advantage |`,
    '|---|---|---|---|',
    row('blob upload (POST + PUT)', ourR.up, theirR.up, 'MB/s'),
    row('blob download (GET)', ourR.down, theirR.down, 'MB/s'),
    row('manifest GET', ourR.manifest, theirR.manifest, 'req/s'),
    row('blob HEAD', ourR.head, theirR.head, 'req/s'),
    row('upload server CPU', ourR.upCpu, theirR.upCpu, 'CPU ms/MiB', false),
    row('download server CPU', ourR.downCpu, theirR.downCpu, 'CPU ms/MiB', false),
    row('manifest GET server CPU', ourR.manifestCpu, theirR.manifestCpu, 'CPU us/req', false),
    row('blob HEAD server CPU', ourR.headCpu, theirR.headCpu, 'CPU us/req', false),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  if (ourR.errors + theirR.errors > 0) process.stdout.write(`errors: ha-proxy ${ourR.errors}, docker-registry ${theirR.errors}\n`);
  rmSync(scratch, { recursive: true, force: true });
  if (s3) process.stdout.write(`\n${await storageBench(s3)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
