// The primary of a multi-process proxy: it serves no traffic itself. It runs the active health
// checks and owns the health store (shared with other proxies through Redis when configured),
// mirrors every health and admin-state change to the workers (state/worker-health.ts,
// state/worker-admin.ts), serves the admin listener with metrics summed over the workers, relays
// manual failbacks, restarts a worker that dies, and on SIGTERM drains the workers before it exits.
// A reload (SIGHUP, POST /reload) is read and validated here, applied here (health, admin states,
// checks), then handed to every worker, which answers once it routes on it.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { collectProcessMetrics } from '../../observability/metrics.js';
import { onReloadSignal, onShutdownSignals } from '../../process/signals.js';
import { backendName } from '../../config/backend-name.js';
import type { Config } from '../../config/types.js';
import { timerDelay } from '../../net/timer-limit.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { AdminHub } from '../../state/worker-admin.js';
import { HealthHub, type Port } from '../../state/worker-health.js';
import { runProxy, type ProxyHandle, type ReloadOutcome } from '../run.js';
import { ClusterMetricsRegistry } from './cluster-metrics.js';
import { workerPort } from './cluster-ports.js';
import { loadHealthStoreFactory } from './load-health-store.js';
import { answerConfigRequests, FAILBACK_MESSAGE, RELOAD_MESSAGE, RELOADED_MESSAGE, WORKER_START_FAILED, workerConfig } from './cluster-protocol.js';
import { loadForReload, serialized, type ConfigSource } from './reload-config.js';
import { ListenError } from '../../net/listen.js';
import { workerExecArgv, workerMallocEnv } from './worker-node-flags.js';
import { streamGcBytes } from '../../process/stream-gc-pacer.js';
import { nextRestartDelay, type RestartState } from '../../process/restart-policy.js';
import { stopGraceMs } from '../../process/stop-grace.js';

/** A worker process, with the environment and Node flags workers start with. */
function forkWorker(): Worker {
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv) });
  return cluster.fork({ ...workerMallocEnv(streamGcBytes(process.env)), ...process.env });
}

/** A dead worker is restarted like a crashed embedded replica: at once at first, slower in a crash loop. */
const WORKER_RESTART = { minDelayMs: 100, maxDelayMs: 10_000 };

/** How long a reload waits for each worker to say it routes on the new config. */
const WORKER_RELOAD_TIMEOUT_MS = 5000;

/** Hands `config` to one worker; resolves with whether it confirmed in time that it applied it. */
function reloadWorker(worker: Worker, port: Port, config: Config, id: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: unknown; id?: unknown; outcome?: { applied?: unknown } } | null): void => {
      if (message?.type === RELOADED_MESSAGE && message.id === id) done(message.outcome?.applied === true);
    };
    const timer = setTimeout(() => done(false), WORKER_RELOAD_TIMEOUT_MS);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(ok);
    };
    worker.on('message', onMessage);
    port.send({ type: RELOAD_MESSAGE, id, config });
  });
}

/** SIGTERM to every worker; workers drain for up to drainTimeoutMs, past that (plus a shutdown margin) they are killed. */
async function terminate(workers: readonly Worker[], drainTimeoutMs: number): Promise<void> {
  const exits = workers.map(
    (w) =>
      new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        w.process.kill('SIGTERM');
        setTimeout(() => w.process.kill('SIGKILL'), timerDelay(stopGraceMs(drainTimeoutMs))).unref();
      }),
  );
  await Promise.all(exits);
}

/**
 * A reload of the whole cluster: read and validate here, apply to the primary's own proxy (health,
 * admin states, checks), then to every worker, waiting for each to confirm.
 */
function clusterReload(
  source: ConfigSource,
  logger: Logger,
  proxy: () => ProxyHandle,
  workers: ReadonlyMap<Worker, Port>,
  onApplied: (config: Config) => void,
): () => Promise<ReloadOutcome & { workers?: { switched: number; of: number } }> {
  let reloads = 0;
  return serialized(async () => {
    const loaded = loadForReload(source, logger);
    if (!loaded.ok) return loaded.outcome;
    const outcome = proxy().reload(loaded.config);
    if (!outcome.applied) return outcome;
    onApplied(loaded.config);
    const id = ++reloads;
    const confirmed = await Promise.all([...workers].map(([worker, port]) => reloadWorker(worker, port, loaded.config, id)));
    const switched = confirmed.filter(Boolean).length;
    if (switched < confirmed.length) logger.error({ switched, of: confirmed.length }, 'config reload: not every worker confirmed the new config in time');
    return { ...outcome, workers: { switched, of: confirmed.length } };
  }, logger);
}

/** `afterStop`: run once the workers and the primary's proxy have stopped (run-proxy-mode.ts). */
export async function runPrimary(config: Config, count: number, source: ConfigSource = () => config, afterStop?: () => Promise<void>): Promise<void> {
  const logger = createLogger(config.logLevel, { mode: config.mode, role: 'primary' });
  const health = await loadHealthStoreFactory(config, logger);
  const workers = new Map<Worker, Port>();
  const registry = new ClusterMetricsRegistry(() => workers.keys());
  collectProcessMetrics(registry);
  let hub: HealthHub | undefined;
  const names = config.backends.map(backendName);
  const admins = new AdminHub(health.createAdmin(config.backends.map((b) => b.weight)), names);
  // Upload tokens and sticky cookies signed by one worker verify in every other: without a
  // configured secret all use this run's, across reloads too.
  const secret = randomBytes(32).toString('base64url');
  let current = workerConfig(config, secret);
  let drainTimeoutMs = config.drainTimeoutMs;
  const reload = clusterReload(() => workerConfig(source(), secret), logger, () => proxy, workers, (next) => {
    // Workers forked from now on (a restart after a crash) start on the new config.
    current = next;
    drainTimeoutMs = next.drainTimeoutMs;
  });
  let workersListening = 0;
  const proxy = await runProxy(config, {
    notReadyReason: () => (workersListening < count ? `${workersListening} of ${count} workers listening` : undefined),
    logger,
    metricsRegistry: registry,
    role: { serveTraffic: false, activeChecks: true, admin: true },
    createHealthStore: (n, params) => (hub = new HealthHub(health.create(n, params), names)),
    createAdminStore: () => admins,
    onFailbackRequested: () => {
      for (const port of workers.values()) port.send({ type: FAILBACK_MESSAGE });
    },
    onReloadRequested: reload,
  }).catch(async (err: unknown) => {
    await health.close();
    throw err;
  });
  const healthHub = hub!;
  let stopping = false;
  const restarts: RestartState = { failures: 0 };

  const fork = (): Promise<void> => {
    const worker = forkWorker();
    answerConfigRequests(worker, current);
    const port = workerPort(worker);
    workers.set(worker, port);
    healthHub.attach(port);
    admins.attach(port);
    const startedAt = Date.now();
    return new Promise((resolve, reject) => {
      let listening = false;
      let startFailure: string | undefined;
      worker.on('message', (message: { type?: unknown; message?: unknown } | null) => {
        if (message?.type === WORKER_START_FAILED && typeof message.message === 'string') startFailure = message.message;
      });
      worker.once('listening', () => {
        listening = true;
        workersListening++;
        resolve();
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        if (listening) workersListening--;
        healthHub.detach(port);
        admins.detach(port);
        if (stopping) return;
        if (!listening) {
          // A bind failure is the operator's to fix (a clear message, status 1); anything else is a crash.
          reject(startFailure !== undefined ? new ListenError(startFailure) : new Error(`a worker exited (${signal ?? code}) before it was listening`));
          return;
        }
        const delay = nextRestartDelay(restarts, Date.now() - startedAt, WORKER_RESTART);
        logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting it');
        setTimeout(() => {
          if (!stopping) fork().catch((err: unknown) => logger.error({ err }, 'worker restart failed'));
        }, delay).unref();
      });
    });
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    await terminate([...workers.keys()], drainTimeoutMs);
    await proxy.stop();
    await health.close();
  };
  // Before the workers start: a SIGTERM while they do stops them and exits 0 (the signal's default
  // action would kill the primary). Each worker re-reads its own certificates in its reload.
  onReloadSignal(() => void reload());
  onShutdownSignals(async () => {
    await stopAll();
    await afterStop?.();
  });
  try {
    await Promise.all(Array.from({ length: count }, fork));
  } catch (err) {
    await stopAll();
    throw err;
  }
  logger.info({ workers: count, listen: config.listen }, 'ha-proxy workers listening');
}
