// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self and inclusive time by function,
// so a profile of the proxy under load can be read and quoted without DevTools.
//   node dist/bench/profile-summary.js FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const shortUrl = (url: string): string => url.replace(/.*node_modules\//, 'nm/').replace(/^file:\/\/.*?\/(dist|bench)\//, '$1/');
const label = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;

export function summarizeProfile(profile: CpuProfile): { totalMs: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeById = new Map<number, number>();
  profile.samples.forEach((id, i) => timeById.set(id, (timeById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const [id, us] of timeById) {
    total += us;
    const key = label(byId.get(id)!.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  return { totalMs: total / 1000, self, inclusive };
}

function main(): void {
  const [file, topText] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const top = Number(topText ?? 30);
  const { totalMs, self, inclusive } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`== ${title} (of ${totalMs.toFixed(0)} ms sampled)\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${((100 * us) / 1000 / totalMs).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}\n`);
    }
  };
  print('self time', self);
  print('inclusive time', inclusive);
}

main();
