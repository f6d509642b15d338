// Starting and stopping what the benchmark measures: nginx static backends, and in front of them
// ha-proxy, HAProxy and nginx. Every process is ours, stopped by PID.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/helpers/ports.js';
import { startHaProxy, startProcess, waitForHttp, type Managed } from '../test/helpers/processes.js';
import { haproxyConf, nginxProxyConf, staticBackendConf } from './server-configs.js';

export const SMALL_PATH = '/v2/bench/blobs/small';
export const BIG_PATH = '/v2/bench/blobs/big';

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

export type ProxyKind = 'ha-proxy' | 'haproxy' | 'nginx';

export interface ProxyOptions {
  kind: ProxyKind;
  backends: Backend[];
  workers: number;
  scratch: string;
  /** Extra ha-proxy CLI flags (e.g. to try a variant). */
  haProxyArgs?: string[];
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
  if (options.kind === 'ha-proxy') {
    const args = ['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn'];
    for (const b of options.backends) args.push('--backend', b.url);
    if (haProxyHasWorkers()) args.push('--workers', String(options.workers));
    proc = startHaProxy([...args, ...(options.haProxyArgs ?? [])]);
  } else if (options.kind === 'haproxy') {
    const conf = join(dir, 'haproxy.cfg');
    writeFileSync(conf, haproxyConf(spec));
    proc = startProcess('haproxy', ['-db', '-f', conf]);
  } else {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxProxyConf(spec));
    proc = startProcess('nginx', ['-p', dir, '-e', 'stderr', '-c', conf]);
  }
  // Ready once a request goes all the way through to the active backend.
  await waitForHttp(`${url}${SMALL_PATH}`, { proc, statuses: [200], timeoutMs: 30_000 });
  return { name: options.kind, url, proc, stop: async () => void (await proc.stop('SIGTERM')) };
}
