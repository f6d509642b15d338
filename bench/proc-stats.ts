// What a proxy costs, read from /proc: CPU time (utime + stime) and resident memory of a process
// and its descendants (nginx workers, ha-proxy cluster workers). RSS summed over a tree counts
// every page the processes share once per process: for a tree of Node processes that is the
// node binary's pages, about 45 MiB in each. PSS (proportional set size) gives each process its
// share of a shared page, so the PSS of a tree is what it costs the machine.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;
const PAGE_KIB = 4;

interface StatLine {
  ppid: number;
  cpuTicks: number;
  rssPages: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so split after the last ')'. */
export function parseStat(text: string): StatLine {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
  return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]), rssPages: Number(rest[21]) };
}

function readStat(pid: number): StatLine | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The process and all its descendants, found by walking /proc once. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeSample {
  cpuSeconds: number;
  rssMiB: number;
  maxProcessRssMiB: number;
}

export function sampleTree(pids: number[]): TreeSample {
  let ticks = 0;
  let pages = 0;
  let maxPages = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) continue;
    ticks += stat.cpuTicks;
    pages += stat.rssPages;
    maxPages = Math.max(maxPages, stat.rssPages);
  }
  return { cpuSeconds: ticks / TICKS_PER_SECOND, rssMiB: (pages * PAGE_KIB) / 1024, maxProcessRssMiB: (maxPages * PAGE_KIB) / 1024 };
}

/** The `Pss:` line of /proc/<pid>/smaps_rollup, in KiB (0 when there is none). */
export function parsePssKiB(smapsRollup: string): number {
  const match = /^Pss:\s+(\d+) kB$/m.exec(smapsRollup);
  return match ? Number(match[1]) : 0;
}

/** The tree's proportional set size: shared pages split among the processes that map them. */
export function treePssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += parsePssKiB(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    } catch {
      // The process has gone.
    }
  }
  return kib / 1024;
}

export interface Usage {
  cpuSeconds: number;
  peakRssMiB: number;
  peakProcessRssMiB: number;
  /** The tree's peak PSS, when measureWhile was asked to sample it. */
  peakPssMiB?: number;
}

/**
 * Samples the tree every `everyMs` while `work` runs, and returns the CPU time spent during it and
 * the peak RSS (summed over the tree, and of the biggest single process). With `pssEveryMs`, the
 * tree's PSS too, on its own, slower period: the kernel walks every mapping to answer.
 */
export async function measureWhile<T>(pids: number[], work: () => Promise<T>, everyMs = 50, pssEveryMs?: number): Promise<{ result: T; usage: Usage }> {
  const start = sampleTree(pids);
  let peak = start.rssMiB;
  let peakProcess = start.maxProcessRssMiB;
  let peakPss = pssEveryMs === undefined ? undefined : treePssMiB(pids);
  const timer = setInterval(() => {
    const s = sampleTree(pids);
    peak = Math.max(peak, s.rssMiB);
    peakProcess = Math.max(peakProcess, s.maxProcessRssMiB);
  }, everyMs);
  const pssTimer = pssEveryMs === undefined ? undefined : setInterval(() => (peakPss = Math.max(peakPss!, treePssMiB(pids))), pssEveryMs);
  try {
    const result = await work();
    const end = sampleTree(pids);
    peak = Math.max(peak, end.rssMiB);
    peakProcess = Math.max(peakProcess, end.maxProcessRssMiB);
    if (peakPss !== undefined) peakPss = Math.max(peakPss, treePssMiB(pids));
    return { result, usage: { cpuSeconds: end.cpuSeconds - start.cpuSeconds, peakRssMiB: peak, peakProcessRssMiB: peakProcess, peakPssMiB: peakPss } };
  } finally {
    clearInterval(timer);
    clearInterval(pssTimer);
  }
}
