// Child processes for integration tests: started on loopback, awaited until they answer HTTP,
// and always stopped by PID when the test ends.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${REPO_ROOT}bin/ha-proxy.js`;

export interface Managed {
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Pids of the processes whose parent is `pid` (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      // The command name (2nd field) is in parentheses and may hold spaces: the ppid follows it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): Managed {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    // Keep the tail only: a chatty process must not grow the test's memory.
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));
  return {
    child,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Starts `bin/ha-proxy.js` with the given arguments. */
export function startHaProxy(args: string[], options: SpawnOptions = {}): Managed {
  return startProcess(process.execPath, [CLI, ...args], options);
}

/** Polls until `url` answers with any HTTP status (or one of `statuses`), or throws after `timeoutMs`. */
export async function waitForHttp(url: string, options: { timeoutMs?: number; statuses?: number[]; proc?: Managed } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last = '';
  while (Date.now() < deadline) {
    if (options.proc && options.proc.child.exitCode !== null) {
      throw new Error(`process exited (${options.proc.child.exitCode}) before ${url} answered:\n${options.proc.output()}`);
    }
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (!options.statuses || options.statuses.includes(res.status)) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer in time (${last})${options.proc ? `:\n${options.proc.output()}` : ''}`);
}
