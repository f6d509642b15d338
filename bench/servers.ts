// Starting and stopping what the benchmark measures: nginx static backends, and in front of them
// ha-proxy, the Node floor (node-floor.ts), HAProxy and nginx. Every process is ours, stopped by PID.
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/ports.js';
import { startHaProxy, startProcess, waitForHttp, type Managed } from '../test/helpers/processes.js';
import { startRegistryProcess, type RegistryProcess } from '../test/helpers/registry-process.js';
import { haproxyConf, nginxProxyConf, staticBackendConf } from './server-configs.js';
import type { BenchFiles } from './setup.js';

/** The repository every benchmark request names; blobs are addressed by digest, as by a client. */
export const BENCH_REPOSITORY = 'bench';
export const blobPath = (digest: string): string => `/v2/${BENCH_REPOSITORY}/blobs/${digest}`;

/** routing for ha-proxy-redirect and the built-in registries it redirects to (one shared secret). */
const BENCH_REDIRECT_ROUTING = { secret: 'the benchmark routing secret', blobRedirect: { enabled: true } };

export interface Running {
  name: string;
  /** Base URL, no trailing slash. */
  url: string;
  /** The process whose tree is measured; undefined for `direct`. */
  proc?: Managed;
  stop: () => Promise<void>;
}

export interface Backend extends Running {
  port: number;
  proc: Managed;
}

export async function startStaticBackend(filesDir: string, scratch: string, port?: number): Promise<Backend> {
  const p = port ?? (await freePort());
  const dir = join(scratch, `backend-${p}`);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, staticBackendConf(p, filesDir, dir));
  const proc = startProcess('nginx', ['-p', dir, '-e', 'stderr', '-c', conf]);
  const url = `http://127.0.0.1:${p}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200] });
  return { name: `backend-${p}`, url, port: p, proc, stop: async () => void (await proc.stop('SIGKILL')) };
}

export type ProxyKind = 'ha-proxy' | 'ha-proxy-redirect' | 'node-floor' | 'haproxy' | 'nginx';

export interface ProxyOptions {
  kind: ProxyKind;
  backends: Backend[];
  workers: number;
  scratch: string;
  /** Extra ha-proxy CLI flags (e.g. to try a variant). */
  haProxyArgs?: string[];
  /** A path that answers 200 once the proxy forwards to a healthy backend. */
  readyPath: string;
}

let workersFlag: boolean | undefined;
/** Whether this build of ha-proxy knows --workers (older builds run one process). */
function haProxyHasWorkers(): boolean {
  if (workersFlag === undefined) {
    const help = execFileSync(process.execPath, [join(process.cwd(), 'bin/ha-proxy.js'), '--help'], { encoding: 'utf8' });
    workersFlag = help.includes('--workers');
  }
  return workersFlag;
}

export async function startProxy(options: ProxyOptions): Promise<Running> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = join(options.scratch, `${options.kind}-${port}`);
  mkdirSync(dir, { recursive: true });
  const spec = { listenPort: port, backendPorts: options.backends.map((b) => b.port), workers: options.workers, dir };
  let proc: Managed;
  if (options.kind === 'ha-proxy' || options.kind === 'ha-proxy-redirect') {
    const args = ['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn'];
    if (options.kind === 'ha-proxy') {
      for (const b of options.backends) args.push('--backend', b.url);
    } else {
      const conf = join(dir, 'ha-proxy.json');
      writeFileSync(conf, JSON.stringify({ mode: 'active-standby', backends: options.backends.map((b) => ({ url: b.url, publicUrl: b.url })), routing: BENCH_REDIRECT_ROUTING }));
      args.push('--config', conf);
    }
    if (haProxyHasWorkers()) args.push('--workers', String(options.workers));
    proc = startHaProxy([...args, ...(options.haProxyArgs ?? [])]);
  } else if (options.kind === 'node-floor') {
    // GETs only, to the first backend: it exists to show what Node itself costs.
    const script = fileURLToPath(new URL('./node-floor.js', import.meta.url));
    proc = startProcess(process.execPath, [script, String(port), String(options.workers), options.backends[0].url]);
  } else if (options.kind === 'haproxy') {
    const conf = join(dir, 'haproxy.cfg');
    writeFileSync(conf, haproxyConf(spec));
    proc = startProcess('haproxy', ['-db', '-f', conf]);
  } else {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxProxyConf(spec));
    proc = startProcess('nginx', ['-p', dir, '-e', 'stderr', '-c', conf]);
  }
  // Ready once a request goes all the way through to the active backend (or, followed, is redirected there).
  await waitForHttp(`${url}${options.readyPath}`, { proc, statuses: [200], timeoutMs: 60_000 });
  return { name: options.kind, url, proc, stop: async () => void (await proc.stop('SIGTERM')) };
}

/** One monolithic upload (`POST ?digest=` with the body), streamed from the file. */
export function pushBlob(registryUrl: string, file: { path: string; digest: string; size: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = `${registryUrl}/v2/${BENCH_REPOSITORY}/blobs/uploads/?digest=${encodeURIComponent(file.digest)}`;
    const req = request(url, { method: 'POST', headers: { 'content-length': file.size, 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`push of ${file.digest}: status ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(file.path, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
}

/**
 * Two built-in registry replicas (`ha-proxy --mode registry`) on one storage directory (the
 * shared-storage clustering the registry supports), holding the 1 KiB and the 512 MiB blob:
 * pushed once, served by both, so a proxy in active-standby has a standby like in production.
 */
export async function startBuiltinRegistries(files: BenchFiles, scratch: string): Promise<Backend[]> {
  const storage = join(scratch, 'registry-storage');
  mkdirSync(storage, { recursive: true });
  // Accepting signed blob URLs changes nothing for requests without one.
  const config = { routing: BENCH_REDIRECT_ROUTING };
  const first = await startRegistryProcess({ storage, logLevel: 'warn', config });
  const toBackend = (r: RegistryProcess): Backend => ({ name: `registry-${r.port}`, url: r.url, port: r.port, proc: r, stop: async () => void (await r.stop('SIGKILL')) });
  try {
    await pushBlob(first.url, files.small);
    await pushBlob(first.url, files.big);
    const second = await startRegistryProcess({ storage, logLevel: 'warn', config });
    return [toBackend(first), toBackend(second)];
  } catch (err) {
    await first.stop('SIGKILL');
    throw err;
  }
}
