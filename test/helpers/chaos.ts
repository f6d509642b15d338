// A chaos run against the embedded default (`ha-proxy --mode active-standby` with no backends:
// supervised replicas behind the proxy): pushers and pullers through the proxy while a
// controller SIGKILLs and SIGSTOPs replicas at random, by PID. Afterwards the replicas are left
// to converge and every acknowledged image is checked on every replica's disk (tag link and
// content hashes under data/replica-N/), so a read that could fetch on demand proves nothing.
// Used by test/integration/chaos.test.ts (short) and bench/chaos.ts (`npm run chaos -- --minutes N`).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingOnDisk, type AckedImage } from './chaos-disk.js';
import { sha256 } from './oci-layout.js';
import { freePort } from './ports.js';
import { startHaProxy, waitForHttp, type Managed } from './processes.js';

export interface ChaosOptions {
  durationMs: number;
  pushers: number;
  pullers: number;
  /** Pause between the end of one fault and the next, drawn from [min, max]. */
  faultGapMs: [number, number];
  /** How long a SIGSTOPped replica stays frozen, drawn from [min, max]. */
  freezeMs: [number, number];
  /** After the load: how long the replicas get to converge before a missing image counts as lost. */
  convergeTimeoutMs: number;
  replicas?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seconds: number;
  faults: { kill: number; freeze: number };
  pushes: { acknowledged: number; failed: number; latencyMs: { p50: number; p90: number; p99: number; max: number } };
  pulls: { ok: number; failed: number };
  failuresByCause: Record<string, number>;
  /** The longest single request, and the longest time with no request succeeding. */
  longestRequestMs: number;
  longestGapMs: number;
  convergedAfterMs?: number;
  /** Acknowledged images missing or wrong on some replica's disk after convergeTimeoutMs. */
  lost: { replica: string; image: string; why: string }[];
  /** `Closing file descriptor N on garbage collection` warnings (a handle left to the GC). */
  fdWarnings: number;
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REQUEST_TIMEOUT_MS = 120_000;

class Tally {
  readonly causes: Record<string, number> = {};
  readonly pushLatencies: number[] = [];
  acked: AckedImage[] = [];
  pushFailed = 0;
  pullsOk = 0;
  pullsFailed = 0;
  longestRequestMs = 0;
  longestGapMs = 0;
  private lastSuccess = Date.now();
  fail(cause: string): void {
    this.causes[cause] = (this.causes[cause] ?? 0) + 1;
  }
  timed(ms: number, ok: boolean): void {
    this.longestRequestMs = Math.max(this.longestRequestMs, ms);
    if (!ok) return;
    const now = Date.now();
    this.longestGapMs = Math.max(this.longestGapMs, now - this.lastSuccess);
    this.lastSuccess = now;
  }
}

/** One request through the proxy, timed; throws a short cause string on failure. */
async function send(tally: Tally, what: string, url: string, init: RequestInit, expect: number): Promise<Response> {
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    tally.timed(Date.now() - started, false);
    const e = err as Error & { cause?: { code?: string } };
    throw new Error(`${what}: ${e.name === 'TimeoutError' ? 'client timeout' : (e.cause?.code ?? e.message)}`);
  }
  if (res.status !== expect) {
    const body = await res.text().catch(() => '');
    tally.timed(Date.now() - started, false);
    let code = '';
    try {
      code = (JSON.parse(body) as { errors?: { code?: string }[] }).errors?.[0]?.code ?? '';
    } catch {
      // not an OCI error envelope
    }
    throw new Error(`${what}: ${res.status}${code ? ` ${code}` : ''}`);
  }
  tally.timed(Date.now() - started, true);
  return res;
}

async function pushOne(base: string, tally: Tally, repo: string, tag: string): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(2048 + Math.floor(Math.random() * 30_000));
  const blobs = [config, layer];
  for (const blob of blobs) {
    const start = await send(tally, 'blob POST', `${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' }, 202);
    await start.arrayBuffer();
    const location = new URL(start.headers.get('location') ?? '', base);
    location.searchParams.set('digest', sha256(blob));
    const put = await send(tally, 'blob PUT', location.href, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } }, 201);
    await put.arrayBuffer();
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  const res = await send(tally, 'manifest PUT', `${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MANIFEST } }, 201);
  await res.arrayBuffer();
  tally.acked.push({ repo, tag, digest: sha256(manifest), blobs: blobs.map(sha256) });
}

async function pusher(base: string, tally: Tally, id: number, running: () => boolean): Promise<void> {
  for (let n = 0; running(); n++) {
    const started = Date.now();
    try {
      await pushOne(base, tally, `chaos/pusher-${id}`, `t${n}`);
      tally.pushLatencies.push(Date.now() - started);
    } catch (err) {
      tally.pushFailed++;
      tally.fail(`push ${(err as Error).message}`);
    }
  }
}

async function puller(base: string, tally: Tally, running: () => boolean): Promise<void> {
  while (running()) {
    const image = tally.acked[Math.floor(Math.random() * tally.acked.length)];
    if (!image) {
      await sleep(100);
      continue;
    }
    try {
      const m = await send(tally, 'manifest GET', `${base}/v2/${image.repo}/manifests/${image.tag}`, { headers: { accept: MANIFEST } }, 200);
      if (sha256(Buffer.from(await m.arrayBuffer())) !== image.digest) throw new Error('manifest GET: wrong digest');
      const b = await send(tally, 'blob GET', `${base}/v2/${image.repo}/blobs/${image.blobs[1]}`, {}, 200);
      if (sha256(Buffer.from(await b.arrayBuffer())) !== image.blobs[1]) throw new Error('blob GET: wrong digest');
      tally.pullsOk++;
    } catch (err) {
      tally.pullsFailed++;
      tally.fail(`pull ${(err as Error).message}`);
    }
  }
}

const between = ([min, max]: [number, number]) => min + Math.random() * (max - min);

/** SIGKILLs (the supervisor restarts it) or SIGSTOPs then SIGCONTs one replica at a time. */
async function controller(embedded: Embedded, options: ChaosOptions, faults: ChaosReport['faults'], running: () => boolean): Promise<void> {
  while (running()) {
    await sleep(between(options.faultGapMs));
    if (!running()) return;
    const index = Math.floor(Math.random() * embedded.replicas);
    const pid = embedded.pid(index);
    if (Math.random() < 0.5) {
      faults.kill++;
      options.log?.(`SIGKILL replica-${index + 1} (pid ${pid})`);
      process.kill(pid, 'SIGKILL');
      await embedded.waitRestarted(index, pid);
    } else {
      faults.freeze++;
      const ms = between(options.freezeMs);
      options.log?.(`SIGSTOP replica-${index + 1} (pid ${pid}) for ${Math.round(ms)} ms`);
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(ms);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    }
  }
}

export interface Embedded {
  proc: Managed;
  url: string;
  data: string;
  replicas: number;
  pid(index: number): number;
  waitRestarted(index: number, oldPid: number): Promise<void>;
  fdWarnings(): number;
}

export async function startEmbedded(replicas = 2): Promise<Embedded> {
  const data = mkdtempSync(join(tmpdir(), 'chaos-'));
  const port = await freePort();
  const adminPort = await freePort();
  const config = join(data, 'proxy.json');
  // The embedded default, with anti-entropy every 5 s instead of 30 s so the check after the run
  // does not wait for it; everything else (ack: all, timeouts, health checks) is the default.
  writeFileSync(config, JSON.stringify({ mode: 'active-standby', listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${adminPort}`, workers: 1, logLevel: 'warn', embedded: { replicas, data }, replication: { pollIntervalMs: 5000 } }));
  const proc = startHaProxy(['--config', config]);
  let warnings = 0;
  const count = (chunk: Buffer) => void (warnings += chunk.toString().split('on garbage collection').length - 1);
  proc.child.stdout?.on('data', count);
  proc.child.stderr?.on('data', count);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 60_000 });
  const pid = (index: number) => Number(readFileSync(join(data, `replica-${index + 1}.pid`), 'utf8'));
  return {
    proc,
    url,
    data,
    replicas,
    pid,
    fdWarnings: () => warnings,
    async waitRestarted(index, oldPid) {
      const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (pid(index) !== oldPid && (await fetch(`http://127.0.0.1:${ports[index].listen}/v2/`).then((r) => r.status === 200, () => false))) return;
        await sleep(100);
      }
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runChaos(embedded: Embedded, options: ChaosOptions): Promise<ChaosReport> {
  const tally = new Tally();
  const faults = { kill: 0, freeze: 0 };
  const started = Date.now();
  const ends = started + options.durationMs;
  const running = () => Date.now() < ends;
  await Promise.all([
    ...Array.from({ length: options.pushers }, (_, i) => pusher(embedded.url, tally, i, running)),
    ...Array.from({ length: options.pullers }, () => puller(embedded.url, tally, running)),
    controller(embedded, options, faults, running),
  ]);
  const loadSeconds = (Date.now() - started) / 1000;
  const converge = await awaitConvergence(embedded, tally.acked, options.convergeTimeoutMs);
  const latencies = [...tally.pushLatencies].sort((a, b) => a - b);
  return {
    seconds: Math.round(loadSeconds),
    faults,
    pushes: {
      acknowledged: tally.acked.length,
      failed: tally.pushFailed,
      latencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
    },
    pulls: { ok: tally.pullsOk, failed: tally.pullsFailed },
    failuresByCause: tally.causes,
    longestRequestMs: tally.longestRequestMs,
    longestGapMs: tally.longestGapMs,
    convergedAfterMs: converge.afterMs,
    lost: converge.lost,
    fdWarnings: embedded.fdWarnings(),
  };
}

/** Polls every replica's disk until each holds every acknowledged image, or the timeout passes. */
async function awaitConvergence(embedded: Embedded, acked: AckedImage[], timeoutMs: number): Promise<{ afterMs?: number; lost: ChaosReport['lost'] }> {
  const started = Date.now();
  const dirs = Array.from({ length: embedded.replicas }, (_, i) => join(embedded.data, `replica-${i + 1}`));
  const verified = dirs.map(() => new Set<string>());
  for (;;) {
    const lost = dirs.flatMap((dir, i) => missingOnDisk(dir, acked, verified[i]).map((m) => ({ replica: `replica-${i + 1}`, ...m })));
    if (lost.length === 0) return { afterMs: Date.now() - started, lost };
    if (Date.now() - started > timeoutMs) return { lost };
    await sleep(1000);
  }
}
