// A prom-client registry per process with the default process metrics. Histograms of request
// durations use DURATION_BUCKETS: prom-client's defaults stop at 10 s and blob transfers take minutes.
import { collectDefaultMetrics, Registry } from 'prom-client';

export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * prom-client's default metrics are already named `process_*` and `nodejs_*`; the prefix only
 * scopes them to us (`haproxy_process_resident_memory_bytes`), it must not repeat `process_`.
 */
export function collectProcessMetrics(registry: Registry, prefix = 'haproxy_'): void {
  collectDefaultMetrics({ register: registry, prefix });
}

export function createMetricsRegistry(prefix = 'haproxy_'): Registry {
  const registry = new Registry();
  collectProcessMetrics(registry, prefix);
  return registry;
}
