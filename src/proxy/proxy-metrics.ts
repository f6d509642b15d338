// The proxy's Prometheus metrics, named as operators know them from HAProxy's exporter and
// Prometheus's naming rules: base units, `_total` counters, and no per-repository labels. Label
// children are resolved once per backend name (at its first request, kept across reloads); the
// counters and the duration histogram every request moves are plain numbers read by prom-client
// at scrape time (deferred-counter.ts, deferred-histogram.ts); gauges that mirror state (health,
// in-flight) are computed for the current backend list when /metrics is scraped.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BackendAdmin } from '../health/admin-state.js';
import type { BackendHealth } from '../health/health-state.js';
import { deferredCounter, type Count, type DeferredCounter } from '../observability/deferred-counter.js';
import { deferredHistogram, type Observe } from '../observability/deferred-histogram.js';
import { DURATION_BUCKETS } from '../observability/metrics.js';
import type { Backend } from './backend.js';
import { displayState, type DisplayState } from './proxy-status.js';
import { FAILURES, type FailureCode } from './upstream-failure.js';

const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
type CodeClass = (typeof CODE_CLASSES)[number];

export function codeClass(status: number): CodeClass {
  return status >= 100 && status < 600 ? CODE_CLASSES[Math.floor(status / 100) - 1] : 'other';
}

type ByClass<T> = Record<CodeClass, T>;

/**
 * The `state` label values of haproxy_server_status, as HAProxy's exporter spells them: one
 * series per state, 1 for the state the backend is in. HAProxy's fifth, NOLB (going down after
 * a 404 check with disable-on-404), has no counterpart here: a drain is DRAIN.
 */
const SERVER_STATES: readonly DisplayState[] = ['DOWN', 'UP', 'MAINT', 'DRAIN'];

export interface BackendMetrics {
  responses: ByClass<Count>;
  bytesIn: Count;
  bytesOut: Count;
  failures: Record<FailureCode, Counter.Internal>;
  retries: Counter.Internal;
  /** `skipped`: the probe could not be made for want of local resources (no verdict). */
  checks: { success: Counter.Internal; failure: Counter.Internal; skipped: Counter.Internal };
}

export interface ProxyMetrics {
  /** By backend name: a request that began before a reload counts under the same name after it. */
  backend(name: string): BackendMetrics;
  requests: Count;
  /** Client connections closed at once because `maxConnections` were open. */
  droppedConnections: Counter.Internal;
  responses: ByClass<Count>;
  duration: ByClass<Observe>;
  stateChange(backend: Backend, to: 'up' | 'down', reason: string): void;
  standbyEvent(kind: string): void;
}

export interface MetricsSources {
  /** The current backend list; the two below are by its positions. */
  backends: () => readonly Backend[];
  health: () => readonly BackendHealth[];
  admin: () => readonly BackendAdmin[];
  inflight: () => readonly number[];
  /** Whether a backend takes traffic now (the active one in active-standby, any UP one otherwise). */
  takesTraffic: (index: number) => boolean;
}

function byClass<T>(make: (cls: CodeClass) => T): ByClass<T> {
  return Object.fromEntries(CODE_CLASSES.map((c) => [c, make(c)])) as ByClass<T>;
}

/** The counters with a `server` label, from which each backend's children are resolved. */
interface ServerCounters {
  serverResponses: DeferredCounter<'server' | 'code'>;
  bytesIn: DeferredCounter<'server'>;
  bytesOut: DeferredCounter<'server'>;
  failures: Counter;
  retries: Counter;
  checks: Counter;
  checkFailures: Counter;
}

function backendMetrics(server: string, c: ServerCounters): BackendMetrics {
  const checkFailure = c.checks.labels({ server, result: 'failure' });
  const checkFailureTotal = c.checkFailures.labels({ server });
  return {
    responses: byClass((code) => c.serverResponses.labels({ server, code })),
    bytesIn: c.bytesIn.labels({ server }),
    bytesOut: c.bytesOut.labels({ server }),
    failures: Object.fromEntries(Object.keys(FAILURES).map((cause) => [cause, c.failures.labels({ server, cause })])) as Record<FailureCode, Counter.Internal>,
    retries: c.retries.labels({ server }),
    checks: {
      success: c.checks.labels({ server, result: 'success' }),
      skipped: c.checks.labels({ server, result: 'skipped' }),
      // Both the HAProxy-named counter and the by-result one move together.
      failure: { inc: (v?: number) => { checkFailure.inc(v); checkFailureTotal.inc(v); } } as Counter.Internal,
    },
  };
}

export function createProxyMetrics(registry: Registry, sources: MetricsSources): ProxyMetrics {
  const registers = [registry];
  const requests = deferredCounter({ name: 'haproxy_frontend_http_requests_total', help: 'HTTP requests received', registers });
  const dropped = new Counter({ name: 'haproxy_frontend_dropped_connections_total', help: 'Client connections closed at once because maxConnections were open', registers });
  const frontendResponses = deferredCounter({
    name: 'haproxy_frontend_http_responses_total',
    help: 'HTTP responses sent to clients, by status class (including the proxy\'s own errors)',
    labelNames: ['code'],
    registers,
  });
  const duration = deferredHistogram({
    name: 'haproxy_frontend_http_request_duration_seconds',
    help: 'Time from request to the last byte of the response, by status class',
    labelNames: ['code'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const serverResponses = deferredCounter({ name: 'haproxy_server_http_responses_total', help: 'HTTP responses from each backend, by status class', labelNames: ['server', 'code'], registers });
  const bytesIn = deferredCounter({ name: 'haproxy_server_bytes_in_total', help: 'Bytes read from clients for requests sent to each backend', labelNames: ['server'], registers });
  const bytesOut = deferredCounter({ name: 'haproxy_server_bytes_out_total', help: 'Bytes written to clients for responses from each backend', labelNames: ['server'], registers });
  const failures = new Counter({ name: 'haproxy_server_failures_total', help: 'Failed attempts to forward to each backend, by cause', labelNames: ['server', 'cause'], registers });
  const retries = new Counter({ name: 'haproxy_server_retry_warnings_total', help: 'Requests retried on another backend after failing on this one', labelNames: ['server'], registers });
  const checks = new Counter({ name: 'haproxy_server_checks_total', help: 'Active health checks, by result', labelNames: ['server', 'result'], registers });
  const checkFailures = new Counter({ name: 'haproxy_server_check_failures_total', help: 'Failed active health checks', labelNames: ['server'], registers });
  const upDown = new Counter({ name: 'haproxy_server_check_up_down_total', help: 'Transitions from UP to DOWN', labelNames: ['server'], registers });
  const stateChanges = new Counter({ name: 'haproxy_server_state_changes_total', help: 'Health state changes, by new state and cause (check or passive)', labelNames: ['server', 'state', 'reason'], registers });
  const standby = new Counter({ name: 'haproxy_backend_failovers_total', help: 'active-standby changes of the active backend, by kind (failover, failback, activate, deactivate)', labelNames: ['kind'], registers });
  new Gauge({
    name: 'haproxy_server_status',
    help: 'Current state of each backend, health and admin state together (1 for the state it is in: MAINT wins, DRAIN only while UP)',
    labelNames: ['server', 'state'],
    registers,
    collect() {
      const health = sources.health();
      const admin = sources.admin();
      this.reset();
      for (const b of sources.backends()) {
        const current = displayState(health[b.index].up, admin[b.index].state);
        for (const state of SERVER_STATES) this.set({ server: b.name, state }, state === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'haproxy_server_active',
    help: 'Whether each backend takes traffic now (1) or not (0)',
    labelNames: ['server'],
    registers,
    collect() {
      this.reset();
      for (const b of sources.backends()) this.set({ server: b.name }, sources.takesTraffic(b.index) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'haproxy_backend_active_servers',
    help: 'Number of backends that are UP',
    registers,
    collect() {
      this.set(sources.health().filter((h) => h.up).length);
    },
  });
  new Gauge({
    name: 'haproxy_server_current_sessions',
    help: 'Requests in flight to each backend',
    labelNames: ['server'],
    registers,
    collect() {
      const inflight = sources.inflight();
      this.reset();
      for (const b of sources.backends()) this.set({ server: b.name }, inflight[b.index]);
    },
  });

  const serverCounters: ServerCounters = { serverResponses, bytesIn, bytesOut, failures, retries, checks, checkFailures };
  const byName = new Map<string, BackendMetrics>();
  return {
    requests: requests.labels(),
    droppedConnections: dropped.labels(),
    responses: byClass((code) => frontendResponses.labels({ code })),
    duration: byClass((code) => duration.labels({ code })),
    backend: (server) => {
      let found = byName.get(server);
      if (!found) byName.set(server, (found = backendMetrics(server, serverCounters)));
      return found;
    },
    stateChange(backend, to, reason) {
      stateChanges.inc({ server: backend.name, state: to.toUpperCase(), reason });
      if (to === 'down') upDown.inc({ server: backend.name });
    },
    standbyEvent(kind) {
      standby.inc({ kind });
    },
  };
}
