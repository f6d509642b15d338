// `ha-proxy --mode active-standby|active-active`: wires the pieces together and owns the
// sockets. runProxy() resolves once both listeners are up, with a handle that stops it.
//
//   client -> http.Server -> request-handler -> Router (mode-router, wrapped by routing/)
//     (with `tls:` HTTPS, HTTP/2 by ALPN: net/client-server.ts)
//                                  |-> forward() (one attempt) -> the backend's undici Pool
//   ActiveChecker + passive reports -> HealthStore -> snapshot read on every request
//
// Embedded mode (src/supervisor) calls runProxy with its built-in replicas as `config.backends`;
// --workers and --redis plug in a shared health store through `createHealthStore`.
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/types.js';
import { ActiveChecker, type CheckResult } from '../health/active-checker.js';
import type { HealthParams } from '../health/health-state.js';
import { LocalHealthStore, type HealthStore } from '../health/health-store.js';
import { createClientServer, reloadCertificatesLogged, type ClientServer } from '../net/client-server.js';
import { listenOn, parseHostPort, type HostPort } from '../net/listen.js';
import { applyServerLimits } from '../net/server-limits.js';
import { timerDelay } from '../net/timer-limit.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { takesNewRequests } from '../health/admin-state.js';
import { LocalAdminStore, type AdminStore } from '../health/admin-store.js';
import { createBackends, destroyBackends, type Backend } from './backend.js';
import { endAttemptsOnMarkDown } from './forwarder.js';
import { createModeRouter, type ModeRouter } from './mode-router.js';
import { createProxyMetrics, type ProxyMetrics } from './proxy-metrics.js';
import { startProxyAdmin } from './proxy-admin.js';
import { proxyStatus, type HealthChange, type ProxyStatus } from './proxy-status.js';
import { createRequestHandler } from './request-handler.js';
import { createRouting } from './routing/create-routing.js';
import type { RoutingContext } from './route-decision.js';

export interface RunProxyOptions {
  logger?: Logger;
  metricsRegistry?: Registry;
  /** A health store shared with other workers or proxies (--workers, --redis). */
  createHealthStore?: (backendCount: number, params: HealthParams) => HealthStore;
  /** Admin states shared with workers or proxies (--workers, --redis); by default process-local. */
  createAdminStore?: (configuredWeights: readonly number[]) => AdminStore;
  /**
   * --workers: which parts this process runs; all default to true. Workers serve traffic
   * only; the primary runs the checks and the admin listener without serving traffic.
   */
  role?: { serveTraffic?: boolean; activeChecks?: boolean; admin?: boolean };
  /** Told when an operator asks for a manual failback (the primary relays it to workers). */
  onFailbackRequested?: () => void;
  /** A further reason for /readyz to answer 503 (the primary: workers not all listening yet). */
  notReadyReason?: () => string | undefined;
}

export interface ProxyHandle {
  /** Where clients connect (the real port when the config said 0). */
  readonly address: HostPort;
  readonly adminAddress: HostPort;
  readonly health: HealthStore;
  readonly router: ModeRouter;
  status(): ProxyStatus;
  /** Re-reads the `tls:` certificate files (SIGHUP); a broken file is logged and the old ones stay. */
  reloadCertificates(): void;
  /** Stops accepting, lets in-flight requests finish up to `drainTimeoutMs`, closes everything. */
  stop(): Promise<void>;
}

/**
 * For a log line about a flood: returns, at most once per `periodMs`, how many events came since
 * the last time it returned non-zero (0 in between).
 */
function rateLimited(periodMs: number): () => number {
  let last = 0;
  let count = 0;
  return () => {
    count++;
    const now = Date.now();
    if (now - last < periodMs) return 0;
    last = now;
    const n = count;
    count = 0;
    return n;
  };
}

/** Metrics and logs for one active check; a skipped one (local resources short) is no verdict. */
function countCheck(metrics: ProxyMetrics, logger: Logger, backend: Backend, result: CheckResult): void {
  const m = metrics.backends[backend.index].checks;
  if (result.skipped) {
    m.skipped.inc();
    logger.warn({ backend: backend.name, detail: result.detail }, 'health check skipped: no verdict on the backend');
    return;
  }
  (result.ok ? m.success : m.failure).inc();
  if (!result.ok) logger.debug({ backend: backend.name, detail: result.detail }, 'health check failed');
}

/** The header deadline, connection cap and header-line cap on the client listener. */
function limitListener(server: Server, config: Config, metrics: ProxyMetrics, logger: Logger): { maxConnections: number | undefined } {
  const dropLog = rateLimited(10_000);
  const limits = applyServerLimits(server, {
    headersMs: config.timeouts.headersMs,
    maxConnections: config.maxConnections,
    onDrop: () => {
      metrics.droppedConnections.inc();
      const dropped = dropLog();
      if (dropped > 0) logger.warn({ maxConnections: limits.maxConnections, dropped }, 'connection limit reached: new client connections are closed');
    },
  });
  return limits;
}

/** host:port a client can use to reach us, for Location rewrites when it sent no Host header. */
function publicHostOf(address: HostPort): string {
  const host = address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host;
  return `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

function healthParams(hc: Config['healthCheck']): HealthParams {
  const { rise, fall, errorLimit, intervalMs, fastIntervalMs, downIntervalMs, jitter } = hc;
  return { rise, fall, errorLimit, intervalMs, fastIntervalMs, downIntervalMs, jitter };
}

export async function runProxy(config: Config, options: RunProxyOptions = {}): Promise<ProxyHandle> {
  if (config.backends.length === 0) {
    throw new ConfigError(['backends: no backends: give at least one --backend URL (or list backends in the config file)']);
  }
  const logger = options.logger ?? createLogger(config.logLevel, { mode: config.mode });
  const registry = options.metricsRegistry ?? createMetricsRegistry();
  const backends = createBackends(config.backends, config.timeouts);
  const hc = config.healthCheck;
  const params = healthParams(hc);
  const ownsHealth = options.role?.activeChecks !== false;
  const health: HealthStore = options.createHealthStore?.(backends.length, params) ?? new LocalHealthStore(backends.length, params);
  const weights = backends.map((b) => b.weight);
  const adminStore: AdminStore = options.createAdminStore?.(weights) ?? new LocalAdminStore(weights);
  const inflight = backends.map(() => 0);
  const routingContext = (): RoutingContext => {
    const elected = health.election?.choice();
    return { backends, health: health.snapshot(), admin: adminStore.snapshot(), inflight, now: Date.now(), ...(elected ? { elected } : {}) };
  };

  let metrics: ReturnType<typeof createProxyMetrics> | undefined;
  const modeRouter = createModeRouter(config, (event) => {
    metrics?.standbyEvent(event.kind);
    const name = (i: number | undefined) => (i === undefined ? null : backends[i].name);
    if (!ownsHealth) return;
    logger.warn({ event: event.kind, from: name(event.from), to: name(event.to) }, `active-standby ${event.kind}`);
  });
  const takesTraffic = (i: number): boolean =>
    config.mode === 'active-standby'
      ? modeRouter.activeIndex() === i && health.snapshot()[i].up
      : health.snapshot()[i].up && takesNewRequests(adminStore.snapshot()[i]);
  metrics = createProxyMetrics(registry, backends, { health: () => health.snapshot(), admin: () => adminStore.snapshot(), inflight: () => inflight, takesTraffic });
  const proxyMetrics = metrics;
  const router = createRouting(config, modeRouter, { logger, metrics: registry });

  endAttemptsOnMarkDown(health, backends);
  // The elected active backend moves traffic as soon as it changes, not at the next request.
  health.election?.onChange(() => modeRouter.refresh(routingContext()));
  // Failback after `failback.delayMs` must happen even when no request arrives to notice it.
  const failbackTimers = new Set<NodeJS.Timeout>();
  const lastChanges: (HealthChange | undefined)[] = backends.map(() => undefined);
  adminStore.onChange((index, admin) => {
    if (ownsHealth) logger.warn({ backend: backends[index].name, admin: admin.state, weight: admin.weight, reason: admin.reason }, `backend ${backends[index].name} admin state ${admin.state.toUpperCase()}`);
    modeRouter.refresh(routingContext());
  });
  health.onTransition((index, transition) => {
    const backend = backends[index];
    lastChanges[index] = { to: transition.to, reason: transition.reason, detail: transition.detail, at: new Date().toISOString() };
    proxyMetrics.stateChange(backend, transition.to, transition.reason);
    const fields = { backend: backend.name, state: transition.to.toUpperCase(), reason: transition.reason, detail: transition.detail, count: transition.count };
    // With --workers, only the process that owns health (the primary) logs its changes.
    if (ownsHealth) {
      if (transition.to === 'down') logger.warn(fields, `backend ${backend.name} is DOWN`);
      else logger.info(fields, `backend ${backend.name} is UP`);
    }
    modeRouter.refresh(routingContext());
    if (transition.to === 'up' && config.mode === 'active-standby' && config.failback.mode === 'auto') {
      const timer = setTimeout(() => {
        failbackTimers.delete(timer);
        modeRouter.refresh(routingContext());
      }, timerDelay(config.failback.delayMs + 1));
      timer.unref();
      failbackTimers.add(timer);
    }
  });

  // Which backends answered their last check as built-in registries (their replication figures go to /status).
  const builtIn = backends.map(() => false);
  const checker = new ActiveChecker(
    backends.map((b) => ({ index: b.index, url: b.url, authorization: b.authorization, tls: b.tls })),
    health,
    { ...params, path: hc.path, method: hc.method, expectStatus: hc.expectStatus, timeoutMs: hc.timeoutMs },
    (index, result) => {
      if (!result.skipped) builtIn[index] = result.builtIn === true;
      countCheck(proxyMetrics, logger, backends[index], result);
    },
  );

  let draining = false;
  let activeRequests = 0;
  let address: HostPort = { host: '', port: 0 };
  const handle = createRequestHandler({
    backends,
    router,
    health,
    metrics: proxyMetrics,
    logger,
    inflight,
    routingContext,
    publicHost: () => publicHostOf(address),
    isDraining: () => draining,
  });
  const listener = createClientServer(
    config.tls,
    // Node's default (300 s for the whole request) would cut multi-GB blob uploads; stalls
    // are caught by the idle timeout below instead.
    { http2: true, requestTimeout: 0 },
    (req, res) => {
      activeRequests++;
      res.once('close', () => activeRequests--);
      handle(req, res);
    },
  );
  const server: ClientServer = listener.server;
  // A client connection with no bytes moving for idleMs is destroyed.
  server.timeout = config.timeouts.idleMs;
  // The HTTPS and HTTP/2 servers take the same settings (their HTTP/1.1 side reads them).
  const { maxConnections } = limitListener(server as unknown as Server, config, proxyMetrics, logger);
  const role = { serveTraffic: true, activeChecks: true, admin: true, ...options.role };
  // A listener that cannot bind ends start-up: stop what already runs (timers keep a process alive).
  const abortStart = (): void => {
    checker.stop();
    health.close();
    destroyBackends(backends);
  };
  if (role.activeChecks) checker.start();
  try {
    address = role.serveTraffic ? await listenOn(server, config.listen, 'listen') : parseHostPort(config.listen);
  } catch (err) {
    abortStart();
    throw err;
  }

  const status = (): ProxyStatus =>
    proxyStatus({ mode: config.mode, draining, backends, health, admin: adminStore.snapshot(), lastChanges, inflight, active: modeRouter.activeIndex(), takesTraffic });
  let admin: Server | undefined;
  try {
    if (role.admin) {
      admin = await startProxyAdmin({
        config,
        registry,
        backends,
        health,
        admin: adminStore,
        router: modeRouter,
        status,
        refresh: () => modeRouter.refresh(routingContext()),
        isDraining: () => draining,
        isBuiltIn: (index) => builtIn[index],
        onFailbackRequested: options.onFailbackRequested,
        notReadyReason: options.notReadyReason,
      });
    }
  } catch (err) {
    server.close();
    abortStart();
    throw err;
  }
  const adminAddr = admin?.address();
  const adminAddress: HostPort = {
    host: parseHostPort(config.adminListen).host,
    port: typeof adminAddr === 'object' && adminAddr ? adminAddr.port : 0,
  };
  logger.info(
    { listen: `${address.host}:${address.port}`, tls: listener.tls, admin: `${adminAddress.host}:${adminAddress.port}`, backends: backends.map((b) => b.url), maxConnections: maxConnections ?? 'none' },
    `ha-proxy ${config.mode} listening`,
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      logger.info({ inFlight: activeRequests, drainTimeoutMs: config.drainTimeoutMs }, 'draining');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + config.drainTimeoutMs;
      while (activeRequests > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 50));
      }
      if (activeRequests > 0) logger.warn({ inFlight: activeRequests }, 'drain timeout: closing the remaining connections');
      server.closeAllConnections();
      await closed;
      checker.stop();
      for (const timer of failbackTimers) clearTimeout(timer);
      health.close();
      adminStore.close();
      destroyBackends(backends);
      if (admin) {
        const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
        admin.closeAllConnections();
        await adminClosed;
      }
      logger.info('stopped');
    })();
    return stopping;
  };

  return { address, adminAddress, health, router: modeRouter, status, reloadCertificates: () => reloadCertificatesLogged(listener, logger), stop };
}
