// A cluster worker: serves traffic with the primary's health snapshot and admin states, runs no checks and no
// admin listener, and answers the primary's requests for its metrics and failback relays. Its
// config (with the run's shared routing secret) came from the primary over IPC (cluster-protocol.ts),
// and so does every reloaded one.
import { backendName } from '../../config/backend-name.js';
import type { Config } from '../../config/types.js';
import { onReloadSignal, onShutdownSignals } from '../../process/signals.js';
import { createLogger } from '../../observability/logger.js';
import { createMetricsRegistry } from '../../observability/metrics.js';
import { WorkerAdminStore } from '../../state/worker-admin.js';
import { WorkerHealthStore } from '../../state/worker-health.js';
import { runProxy } from '../run.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { primaryPort } from './cluster-ports.js';
import { FAILBACK_MESSAGE, RELOAD_MESSAGE, RELOADED_MESSAGE } from './cluster-protocol.js';

export async function runWorker(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, { mode: config.mode, worker: true });
  const registry = createMetricsRegistry();
  answerMetricsRequests(registry);
  const port = primaryPort();
  const names = config.backends.map(backendName);
  const proxy = await runProxy(config, {
    logger,
    metricsRegistry: registry,
    role: { serveTraffic: true, activeChecks: false, admin: false },
    createHealthStore: (n, params) => new WorkerHealthStore(n, params, port, names),
    createAdminStore: (weights) => new WorkerAdminStore(weights, port, names),
  });
  port.onMessage((message) => {
    const m = message as { type?: unknown; id?: unknown; config?: unknown } | null;
    if (m?.type === FAILBACK_MESSAGE) proxy.router.requestFailback();
    else if (m?.type === RELOAD_MESSAGE && typeof m.id === 'number') {
      let outcome: unknown;
      try {
        outcome = proxy.reload(m.config as Config);
      } catch (err) {
        // A defect, not a bad file (the primary validated it): this worker keeps its config and says so.
        logger.error({ err }, 'config reload failed inside the worker');
        outcome = { applied: false, problems: [`internal error: ${String(err)}`] };
      }
      port.send({ type: RELOADED_MESSAGE, id: m.id, outcome });
    }
  });
  onShutdownSignals(proxy.stop);
  // A SIGHUP sent to the whole process group reaches us too: the config comes from the primary's
  // reload (RELOAD_MESSAGE), so here only the certificate files are read again.
  onReloadSignal(proxy.reloadCertificates);
  // The primary is gone (killed): nobody will tell us about health any more, so stop serving.
  process.once('disconnect', () => {
    void proxy.stop().finally(() => process.exit(0));
  });
}
