// Memory of the embedded default (`npm start`: the proxy and its built-in replicas, no
// --backend), the whole process tree: at rest after start-up, then while a 512 MiB blob pushed
// through the proxy is pulled back (peak of the tree's summed RSS, sampled every 20 ms). Each
// figure also as PSS (proc-stats.ts): summed RSS counts the node binary's shared pages once per
// process, PSS once for the tree.
//   node dist/bench/embedded-memory.js [--cli PATH] [--node-flag F] [--rounds N] [-- extra ha-proxy flags]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/ports.js';
import { startProcess, waitForHttp } from '../test/helpers/processes.js';
import { download } from './load.js';
import { measureWhile, processTree, treePssMiB } from './proc-stats.js';
import { blobPath, pushBlob } from './servers.js';
import { ensureFiles } from './setup.js';

const PAGE_KIB = 4;

/** RSS of each process of the tree, named by its role as far as the command line tells it. */
function perProcess(pids: number[]): string {
  return pids
    .map((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
        const role = cmd.some((a) => a.endsWith('.config.json')) ? 'replica' : pid === pids[0] ? 'proxy' : 'worker';
        return `${role} ${((Number(statm[1]) * PAGE_KIB) / 1024).toFixed(0)}`;
      } catch {
        return `${pid} gone`;
      }
    })
    .join(', ');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { cli: { type: 'string' }, 'node-flag': { type: 'string', multiple: true }, rounds: { type: 'string', default: '2' }, 'rest-seconds': { type: 'string', default: '10' } },
    allowPositionals: true,
  });
  const cli = values.cli ?? join(process.cwd(), 'bin/ha-proxy.js');
  const files = ensureFiles(join(tmpdir(), 'ha-proxy-bench-files'));
  const data = mkdtempSync(join(tmpdir(), 'ha-proxy-embedded-mem-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--data', data, '--log-level', 'warn', ...positionals];
  const proc = startProcess(process.execPath, [...(values['node-flag'] ?? []).filter(Boolean), cli, ...args]);
  try {
    await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 60_000 });
    // Both replicas up and checked before the first reading.
    await new Promise((r) => setTimeout(r, Number(values['rest-seconds']) * 1000));
    const pids = processTree(proc.child.pid!);
    const rest = await measureWhile(pids, () => new Promise((r) => setTimeout(r, 1000)), 100);
    process.stdout.write(`at rest: ${rest.usage.peakRssMiB.toFixed(0)} MiB (${perProcess(pids)}); PSS ${treePssMiB(pids).toFixed(0)} MiB\n`);
    await pushBlob(url, files.big);
    for (let i = 0; i < Number(values.rounds); i++) {
      const { result, usage } = await measureWhile(pids, () => download(`${url}${blobPath(files.big.digest)}`), 20, 100);
      if (result.status !== 200 || result.bytes !== files.big.size) throw new Error(`pull gave ${result.status}, ${result.bytes} bytes`);
      process.stdout.write(`pull ${i + 1}: peak ${usage.peakRssMiB.toFixed(0)} MiB, largest process ${usage.peakProcessRssMiB.toFixed(0)} MiB, PSS peak ${usage.peakPssMiB!.toFixed(0)} MiB, ${((result.bytes / 1e6) / result.seconds).toFixed(0)} MB/s; after: ${perProcess(pids)}\n`);
    }
  } finally {
    await proc.stop('SIGTERM');
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
