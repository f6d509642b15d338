// `--workers N`: how many processes serve a proxy's traffic. One runs runProxy as it is; more
// make this process the primary of a node:cluster (primary.ts) whose workers (worker.ts) share
// the listening socket. Workers are started from the same command line and run on the config
// their primary validated (cluster-protocol.ts); `isClusterWorker()` sends them down the worker path.
import { availableParallelism } from 'node:os';
import { onReloadSignal, onShutdownSignals } from '../../process/signals.js';
import { isClusterWorker } from '../../process/worker-role.js';
import type { Config } from '../../config/types.js';
import { createLogger } from '../../observability/logger.js';
import { ListenError } from '../../net/listen.js';
import { WORKER_START_FAILED } from './cluster-protocol.js';
import { loadForReload, serialized, type ConfigSource } from './reload-config.js';
import type { ReloadOutcome } from '../run.js';

/** `workers: 0` (the default) means one per CPU. */
export function workerCount(config: Pick<Config, 'workers'>, cpus: number = availableParallelism()): number {
  return config.workers === 0 ? cpus : config.workers;
}

export interface ProxyModeOptions {
  /** Where SIGHUP and POST /reload read the config again; absent: the config given is used again. */
  reloadSource?: ConfigSource;
  /**
   * SIGTERM/SIGINT: runs after the proxy has drained and stopped, before the process exits. The
   * embedded mode stops its replicas here: a process that exits first leaves them nothing (PID 1
   * of a container takes every other process of it down; systemd's KillMode=mixed kills what is left).
   */
  afterStop?: () => Promise<void>;
}

export async function runProxyMode(config: Config, options: ProxyModeOptions = {}): Promise<void> {
  const source = options.reloadSource ?? (() => config);
  if (isClusterWorker()) {
    const { runWorker } = await import('./worker.js');
    // The IPC channel keeps a worker alive: a worker that cannot start must exit by itself (the
    // primary then reports it).
    await runWorker(config).catch((err: unknown) => {
      // A bind failure is reported by the primary (it exits 1 with the message); tell it first.
      if (err instanceof ListenError && process.send && process.connected) {
        process.send({ type: WORKER_START_FAILED, message: err.message }, undefined, undefined, () => process.exit(1));
        return;
      }
      process.stderr.write(`ha-proxy worker ${process.pid}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
    return;
  }
  const count = workerCount(config);
  if (count > 1) {
    const { runPrimary } = await import('./primary.js');
    await runPrimary(config, count, source, options.afterStop);
    return;
  }
  // Imported here, not at the top: a worker loads its own copy through worker.js.
  const [{ loadHealthStoreFactory }, { runProxy }] = await Promise.all([import('./load-health-store.js'), import('../run.js')]);
  const logger = createLogger(config.logLevel, { mode: config.mode });
  const health = await loadHealthStoreFactory(config, logger);
  const reload = serialized(async (): Promise<ReloadOutcome> => {
    const loaded = loadForReload(source, logger);
    return loaded.ok ? proxy.reload(loaded.config) : loaded.outcome;
  }, logger);
  const proxy = await runProxy(config, { logger, createHealthStore: health.create, createAdminStore: health.createAdmin, onReloadRequested: reload }).catch(async (err: unknown) => {
    await health.close();
    throw err;
  });
  onShutdownSignals(async () => {
    await proxy.stop();
    await health.close();
    await options.afterStop?.();
  });
  onReloadSignal(() => void reload());
}
