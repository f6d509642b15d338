// A cluster worker: serves traffic with the primary's health snapshot and admin states, runs no checks and no
// admin listener, and answers the primary's requests for its metrics and failback relays. Its
// config (with the run's shared routing secret) came from the primary over IPC (cluster-protocol.ts).
import type { Config } from '../../config/types.js';
import { onReloadSignal, onShutdownSignals } from '../../process/signals.js';
import { createLogger } from '../../observability/logger.js';
import { createMetricsRegistry } from '../../observability/metrics.js';
import { WorkerAdminStore } from '../../state/worker-admin.js';
import { WorkerHealthStore } from '../../state/worker-health.js';
import { runProxy } from '../run.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { primaryPort } from './cluster-ports.js';
import { FAILBACK_MESSAGE, RELOAD_TLS_MESSAGE } from './cluster-protocol.js';

export async function runWorker(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, { mode: config.mode, worker: true });
  const registry = createMetricsRegistry();
  answerMetricsRequests(registry);
  const port = primaryPort();
  const proxy = await runProxy(config, {
    logger,
    metricsRegistry: registry,
    role: { serveTraffic: true, activeChecks: false, admin: false },
    createHealthStore: (n, params) => new WorkerHealthStore(n, params, port),
    createAdminStore: (weights) => new WorkerAdminStore(weights, port),
  });
  port.onMessage((message) => {
    const type = (message as { type?: unknown } | null)?.type;
    if (type === FAILBACK_MESSAGE) proxy.router.requestFailback();
    else if (type === RELOAD_TLS_MESSAGE) proxy.reloadCertificates();
  });
  onShutdownSignals(proxy.stop);
  // The primary relays SIGHUP; a SIGHUP sent to the whole process group reaches us too.
  onReloadSignal(proxy.reloadCertificates);
  // The primary is gone (killed): nobody will tell us about health any more, so stop serving.
  process.once('disconnect', () => {
    void proxy.stop().finally(() => process.exit(0));
  });
}
