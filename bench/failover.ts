// The failover gap: GETs running through a proxy in active-standby while the active backend is
// SIGKILLed. Each proxy gets its own fresh pair of backends, so no run waits for a failback.
import { setTimeout as sleep } from 'node:timers/promises';
import { failedRequests, wrk } from './load.js';
import type { FailoverResult } from './report.js';
import { blobPath, startProxy, startStaticBackend, type ProxyKind } from './servers.js';
import type { BenchFiles } from './setup.js';

export interface FailoverOptions {
  failoverSeconds: number;
  workers: number;
  threads: number;
  files: BenchFiles;
  scratch: string;
  haProxyArgs: string[];
  log: (line: string) => void;
}

/** Fewer connections than the throughput rounds: this measures correctness, not speed. */
const FAILOVER_CONNECTIONS = 16;

export async function runFailover(kinds: Exclude<ProxyKind, 'node-floor'>[], options: FailoverOptions): Promise<FailoverResult[]> {
  const results: FailoverResult[] = [];
  for (const kind of kinds) {
    const path = blobPath(options.files.small.digest);
    const active = await startStaticBackend(options.files.dir, options.scratch);
    const standby = await startStaticBackend(options.files.dir, options.scratch);
    const proxy = await startProxy({ kind, backends: [active, standby], workers: options.workers, scratch: options.scratch, haProxyArgs: options.haProxyArgs, readyPath: path });
    try {
      // Let health checks settle so the proxy starts from "both backends up".
      await sleep(1000);
      const load = wrk({ url: `${proxy.url}${path}`, seconds: options.failoverSeconds, connections: FAILOVER_CONNECTIONS, threads: options.threads });
      await sleep((options.failoverSeconds * 1000) / 3);
      active.proc.child.kill('SIGKILL');
      const r = await load;
      const failed = failedRequests(r);
      const detail = `connect ${r.connectErrors}, read ${r.readErrors}, write ${r.writeErrors}, timeout ${r.timeouts}, non-2xx/3xx ${r.badStatus}`;
      results.push({ target: kind, requests: r.requests, failed, detail });
      options.log(`failover ${kind}: ${r.requests} GETs, ${failed} failed (${detail})`);
    } finally {
      await proxy.stop();
      await active.stop();
      await standby.stop();
    }
  }
  return results;
}
