// Preconditions of a run: the tools installed (apt-get when missing), the files to serve, and a
// description of the machine for the raw results.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
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

/** Writes `small` (1 KiB) and `big` (512 MiB) of random bytes once, and reuses them across runs. */
export function ensureFiles(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const small = join(dir, 'small');
  if (!existsSync(small) || statSync(small).size !== SMALL_BYTES) writeFileSync(small, randomBytes(SMALL_BYTES));
  const big = join(dir, 'big');
  if (existsSync(big) && statSync(big).size === BIG_BYTES) return;
  const fd = openSync(big, 'w');
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < BIG_BYTES / chunk.length; i++) writeSync(fd, chunk);
  closeSync(fd);
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
