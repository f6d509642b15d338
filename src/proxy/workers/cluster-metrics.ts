// /metrics for a proxy running as a primary and workers. Traffic is counted in the workers and
// summed; health, checks and failovers are decided in the primary, so those series come from the
// primary alone (workers mirror the same health, and summing would multiply it by N).
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Series that describe the primary's health view rather than traffic. */
const PRIMARY_OWNED = /^haproxy_(server_status|server_active|server_checks_total|server_check_|server_state_changes_total|backend_failovers_total|backend_active_servers)/;

export const METRICS_REQUEST = 'ha-proxy:metrics-request';
export const METRICS_RESPONSE = 'ha-proxy:metrics-response';

/** How long the primary waits for a worker's metrics: a stuck worker must not hang /metrics. */
const WORKER_METRICS_TIMEOUT_MS = 2000;

interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  metrics: MetricsJson;
}

const isResponse = (m: unknown): m is MetricsResponse => (m as { type?: unknown } | null)?.type === METRICS_RESPONSE;

export class ClusterMetricsRegistry extends Registry {
  private nextId = 0;

  constructor(private readonly workers: () => Iterable<Worker>) {
    super();
  }

  private ask(worker: Worker): Promise<MetricsJson | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const onMessage = (message: unknown): void => {
        if (!isResponse(message) || message.id !== id) return;
        done(message.metrics);
      };
      const timer = setTimeout(() => done(undefined), WORKER_METRICS_TIMEOUT_MS);
      const done = (metrics: MetricsJson | undefined): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(metrics);
      };
      worker.on('message', onMessage);
      if (!worker.isConnected()) done(undefined);
      else worker.send({ type: METRICS_REQUEST, id }, undefined, () => {});
    });
  }

  override async metrics(): Promise<string> {
    const own = (await this.getMetricsAsJSON()) as MetricsJson;
    const fromWorkers = await Promise.all([...this.workers()].map((w) => this.ask(w)));
    const traffic = fromWorkers.filter((m): m is MetricsJson => m !== undefined).map((list) => list.filter((m) => !PRIMARY_OWNED.test(m.name)));
    return AggregatorRegistry.aggregate([own, ...traffic]).metrics();
  }
}

/** In a worker: answers the primary's metrics requests from this worker's registry. */
export function answerMetricsRequests(registry: Registry): void {
  process.on('message', (message: unknown) => {
    const m = message as { type?: unknown; id?: unknown } | null;
    if (m?.type !== METRICS_REQUEST || typeof m.id !== 'number') return;
    const id = m.id;
    void registry.getMetricsAsJSON().then((metrics) => {
      if (process.connected) process.send?.({ type: METRICS_RESPONSE, id, metrics }, undefined, undefined, () => {});
    });
  });
}
