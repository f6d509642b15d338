// Preconditions of a run: the tools installed (apt-get when missing), the files to serve, and a
// description of the machine for the raw results.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { toolPath } from '../test/helpers/tools.js';

const PACKAGES: Record<string, string> = { haproxy: 'haproxy', nginx: 'nginx', wrk: 'wrk', curl: 'curl' };

export function ensureTools(log: (line: string) => void): void {
  const missing = Object.keys(PACKAGES).filter((tool) => !toolPath(tool));
  if (missing.length === 0) return;
  const packages = missing.map((t) => PACKAGES[t]);
  log(`installing ${packages.join(' ')} with apt-get`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), 'update'], { stdio: 'inherit', env });
  execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), 'install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  const still = missing.filter((tool) => !toolPath(tool));
  if (still.length > 0) throw new Error(`still missing after apt-get: ${still.join(', ')}`);
}

export const SMALL_BYTES = 1024;
export const BIG_BYTES = 512 * 1024 * 1024;

export interface BenchFiles {
  dir: string;
  small: { path: string; digest: string; size: number };
  big: { path: string; digest: string; size: number };
}

function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(4 * 1024 * 1024);
  for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  closeSync(fd);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Writes `small` (1 KiB) and `big` (512 MiB) of random bytes once and reuses them across runs,
 * with their digests (cached beside them), and links each under its digest so the static
 * backend serves the same `/v2/<name>/blobs/<digest>` paths as a registry: the proxy's
 * registry-aware routing then does its real work on every request.
 */
export function ensureFiles(dir: string): BenchFiles {
  mkdirSync(dir, { recursive: true });
  const small = join(dir, 'small');
  const big = join(dir, 'big');
  const cache = join(dir, 'digests.json');
  if (!existsSync(small) || statSync(small).size !== SMALL_BYTES) {
    writeFileSync(small, randomBytes(SMALL_BYTES));
    rmSync(cache, { force: true });
  }
  if (!existsSync(big) || statSync(big).size !== BIG_BYTES) {
    const fd = openSync(big, 'w');
    const chunk = randomBytes(1024 * 1024);
    for (let i = 0; i < BIG_BYTES / chunk.length; i++) {
      // Vary each MiB so nothing on the way can deduplicate it.
      chunk.writeUInt32LE(i, 0);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    rmSync(cache, { force: true });
  }
  let digests: { small: string; big: string };
  if (existsSync(cache)) {
    digests = JSON.parse(readFileSync(cache, 'utf8')) as { small: string; big: string };
  } else {
    digests = { small: sha256File(small), big: sha256File(big) };
    writeFileSync(cache, JSON.stringify(digests));
  }
  for (const [name, digest] of [['small', digests.small], ['big', digests.big]] as const) {
    const link = join(dir, digest);
    if (!existsSync(link)) symlinkSync(name, link);
  }
  return {
    dir,
    small: { path: small, digest: digests.small, size: SMALL_BYTES },
    big: { path: big, digest: digests.big, size: BIG_BYTES },
  };
}

function firstLine(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0].trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return (e.stderr || e.stdout || String(err)).split('\n')[0].trim();
  }
}

export function describeMachine(): Record<string, unknown> {
  const cpu = cpus();
  // nginx -v prints to stderr.
  const nginxVersion = execFileSync('sh', ['-c', 'nginx -v 2>&1'], { encoding: 'utf8' }).trim();
  return {
    date: new Date().toISOString(),
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    haproxy: firstLine('haproxy', ['-v']),
    nginx: nginxVersion,
    wrk: firstLine('wrk', ['--version']),
    loadAverage: firstLine('cat', ['/proc/loadavg']),
  };
}
