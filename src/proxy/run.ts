// `ha-proxy --mode active-standby|active-active`: wires the pieces together and owns the
// sockets. runProxy() resolves once both listeners are up, with a handle that stops or reloads it.
//
//   client -> http.Server -> request-handler -> the newest DataPlane's Router (data-plane.ts)
//     (with `tls:` HTTPS, HTTP/2 by ALPN: net/client-server.ts)
//                                  |-> candidate-walk -> forward() (one attempt) -> the forwarder's pool (upstream-pools.ts)
//   ControlPlane: ActiveChecker + passive reports -> HealthStore, admin states -> read on every request
//
// A reload builds a new DataPlane from the new config, moves the control plane's per-backend
// states to the new backend list and swaps the plane (reload()); requests that began on the old
// plane finish on it.
//
// Embedded mode (src/supervisor) calls runProxy with its built-in replicas as `config.backends`;
// --workers and --redis plug in a shared health store through `createHealthStore`.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/types.js';
import type { HealthParams } from '../health/health-state.js';
import type { HealthStore } from '../health/health-store.js';
import type { AdminStore } from '../health/admin-store.js';
import { createClientServer, reloadCertificatesLogged, type ClientListener, type ClientServer } from '../net/client-server.js';
import { listenOn, parseHostPort, type HostPort } from '../net/listen.js';
import { applyServerLimits } from '../net/server-limits.js';
import { watchFiles } from '../net/watch-files.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { ControlPlane } from './control-plane.js';
import { buildDataPlane, PlaneSwitch, type DataPlane, type DataPlaneDeps } from './data-plane.js';
import type { ModeRouter } from './mode-router.js';
import { createProxyMetrics, type ProxyMetrics } from './proxy-metrics.js';
import { startProxyAdmin } from './proxy-admin.js';
import type { ProxyStatus } from './proxy-status.js';
import { planReload } from './reload-plan.js';
import { createRequestHandler } from './request-handler.js';
import { createBlobRedirectMetrics, createRoutingMetrics } from './routing/routing-metrics.js';
import { UpstreamPools } from './upstream-pools.js';

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
  /** POST /reload on the admin listener: re-read the config and apply it (absent: 404). */
  onReloadRequested?: () => Promise<ReloadOutcome>;
}

/** What a reload did: the lines of what changed, the settings that wait for a restart, or why nothing changed. */
export interface ReloadOutcome {
  readonly applied: boolean;
  readonly changes: readonly string[];
  readonly restartNeeded: readonly string[];
  /** `path: reason` for each problem of a config that was refused (the running one stays). */
  readonly problems: readonly string[];
}

export interface ProxyHandle {
  /** Where clients connect (the real port when the config said 0). */
  readonly address: HostPort;
  readonly adminAddress: HostPort;
  readonly health: HealthStore;
  /** The mode router of the current data plane. */
  readonly router: ModeRouter;
  status(): ProxyStatus;
  /** Re-reads the `tls:` certificate files; a broken file is logged and the old ones stay. */
  reloadCertificates(): void;
  /** Applies a newly validated config in place (what cannot change without a restart keeps its running value). */
  reload(next: Config): ReloadOutcome;
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

/** Every certificate, key and CA file of the listener's `tls:` block. */
function certificateFiles(tls: Config['tls']): string[] {
  if (!tls) return [];
  return [tls.cert, tls.key, tls.clientCa, ...tls.certificates.flatMap((c) => [c.cert, c.key])].filter((f): f is string => f !== undefined);
}

/** How long after the last change of a certificate file it is read: a renewal writes cert and key one after the other. */
const CERT_SETTLE_MS = 500;

interface Running {
  config: Config;
  readonly logger: Logger;
  readonly listener: ClientListener;
  readonly server: ClientServer;
  readonly planes: PlaneSwitch;
  readonly control: ControlPlane;
  readonly planeDeps: DataPlaneDeps;
  /** False in a --workers primary: its listener never serves, so its certificate files are not watched. */
  readonly serving: boolean;
  unwatch: () => void;
}

/** The certificate files are watched (cheap stat polling): a renewed certificate is served without a SIGHUP. */
function watchCertificates(r: Running): void {
  r.unwatch();
  const files = r.serving ? certificateFiles(r.config.tls) : [];
  r.unwatch = files.length === 0 ? () => {} : watchFiles(files, CERT_SETTLE_MS, () => reloadCertificatesLogged(r.listener, r.logger, r.config.tls));
}

function applyReload(r: Running, next: Config): ReloadOutcome {
  if (next.backends.length === 0) return { applied: false, changes: [], restartNeeded: [], problems: [NO_BACKENDS] };
  const plan = planReload(r.config, next);
  const from = r.planes.current;
  let to: DataPlane;
  try {
    to = buildDataPlane(plan.config, r.planeDeps, from);
  } catch (err) {
    if (err instanceof ConfigError) return { applied: false, changes: [], restartNeeded: [], problems: err.problems };
    throw err;
  }
  r.control.reload(plan.config, from, to, () => r.planes.swap(to));
  r.config = plan.config;
  r.logger.level = plan.config.logLevel;
  // A client connection with no bytes moving for idleMs is destroyed.
  r.server.timeout = plan.config.timeouts.idleMs;
  reloadCertificatesLogged(r.listener, r.logger, plan.config.tls);
  watchCertificates(r);
  const fields = { changes: plan.changes, restartNeeded: plan.restartNeeded, backends: to.backends.map((b) => b.name) };
  r.logger.info(fields, 'config reloaded');
  if (plan.restartNeeded.length > 0) r.logger.warn({ restartNeeded: plan.restartNeeded }, `config reloaded, but these settings keep their running value until a restart: ${plan.restartNeeded.join(', ')}`);
  return { applied: true, changes: plan.changes, restartNeeded: plan.restartNeeded, problems: [] };
}

const NO_BACKENDS = 'backends: no backends: give at least one --backend URL (or list backends in the config file)';

interface Traffic extends Running {
  readonly pools: UpstreamPools;
  readonly metrics: ProxyMetrics;
  /** Client requests not yet ended, on every plane. */
  activeRequests(): number;
}

/** The first data plane, the control plane beside it, the request handler and the client listener (not listening yet). */
function startTraffic(config: Config, options: RunProxyOptions, logger: Logger, registry: Registry, state: { draining: boolean; address: HostPort }): Traffic {
  const ownsHealth = options.role?.activeChecks !== false;
  const pools = new UpstreamPools();
  const planeDeps: DataPlaneDeps = {
    pools,
    routingEvents: createRoutingMetrics(registry),
    onBlobRedirect: createBlobRedirectMetrics(registry),
    generatedSecret: randomBytes(32),
    onStandbyEvent: (plane, event) => {
      metrics.standbyEvent(event.kind);
      const name = (i: number | undefined) => (i === undefined ? null : plane.backends[i].name);
      if (ownsHealth) logger.warn({ event: event.kind, from: name(event.from), to: name(event.to) }, `active-standby ${event.kind}`);
    },
  };
  const planes = new PlaneSwitch(buildDataPlane(config, { ...planeDeps, logger }), pools);
  const inflight = new Map<string, number>();
  const metrics = createProxyMetrics(registry, {
    backends: () => planes.current.backends,
    health: () => control.health.snapshot(),
    admin: () => control.admin.snapshot(),
    inflight: () => control.inflight(planes.current),
    takesTraffic: (i) => control.takesTraffic(i),
  });
  const { createHealthStore, createAdminStore } = options;
  const control = new ControlPlane(config, { plane: () => planes.current, inflight }, metrics, { logger, createHealthStore, createAdminStore, ownsHealth });
  // In this process: with --workers each worker's health store reports the primary's
  // transitions, so the worker holding a request ends it (or lets its transfer finish).
  control.health.onTransition((index, transition) => {
    const { backends, config: current } = planes.current;
    const backend = backends[index];
    if (transition.to === 'down' && backend) pools.markDown(backend.name, current.healthCheck.onMarkedDown);
  });
  const handle = createRequestHandler({
    metrics,
    logger,
    inflight,
    reportTraffic: (backend, ok, detail) => control.reportTraffic(backend, ok, detail),
    routingContext: (plane) => control.routingContext(plane),
    publicHost: () => publicHostOf(state.address),
    isDraining: () => state.draining,
  });
  let active = 0;
  const listener = createClientServer(
    config.tls,
    // Node's default (300 s for the whole request) would cut multi-GB blob uploads; stalls
    // are caught by the idle timeout below instead.
    { http2: true, requestTimeout: 0 },
    (req, res) => {
      active++;
      const { plane, end } = planes.begin();
      res.on('close', () => {
        active--;
        end();
      });
      handle(req, res, plane);
    },
  );
  // A client connection with no bytes moving for idleMs is destroyed.
  listener.server.timeout = config.timeouts.idleMs;
  const serving = options.role?.serveTraffic !== false;
  return { config, logger, listener, server: listener.server, planes, control, planeDeps, serving, unwatch: () => {}, pools, metrics, activeRequests: () => active };
}

/** Stops accepting, lets in-flight requests finish up to `drainTimeoutMs`, closes everything. */
async function drainAndStop(t: Traffic, admin: Server | undefined): Promise<void> {
  t.unwatch();
  const { server, logger } = t;
  const drainTimeoutMs = t.config.drainTimeoutMs;
  logger.info({ inFlight: t.activeRequests(), drainTimeoutMs }, 'draining');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const deadline = Date.now() + drainTimeoutMs;
  while (t.activeRequests() > 0 && Date.now() < deadline) {
    server.closeIdleConnections();
    await new Promise((r) => setTimeout(r, 50));
  }
  if (t.activeRequests() > 0) logger.warn({ inFlight: t.activeRequests() }, 'drain timeout: closing the remaining connections');
  server.closeAllConnections();
  await closed;
  t.control.close();
  t.pools.destroy();
  if (admin) {
    const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
    admin.closeAllConnections();
    await adminClosed;
  }
  logger.info('stopped');
}

function startAdmin(t: Traffic, config: Config, registry: Registry, options: RunProxyOptions, isDraining: () => boolean): Promise<Server> {
  const { control, planes } = t;
  return startProxyAdmin({
    config,
    registry,
    backends: () => planes.current.backends,
    health: control.health,
    admin: control.admin,
    router: () => planes.current.modeRouter,
    status: () => control.status(isDraining()),
    refresh: () => control.refresh(),
    isDraining,
    isBuiltIn: (name) => control.isBuiltIn(name),
    onFailbackRequested: options.onFailbackRequested,
    notReadyReason: options.notReadyReason,
    reload: options.onReloadRequested,
  });
}

export async function runProxy(config: Config, options: RunProxyOptions = {}): Promise<ProxyHandle> {
  if (config.backends.length === 0) throw new ConfigError([NO_BACKENDS]);
  const logger = options.logger ?? createLogger(config.logLevel, { mode: config.mode });
  const registry = options.metricsRegistry ?? createMetricsRegistry();
  const role = { serveTraffic: true, activeChecks: true, admin: true, ...options.role };
  const state = { draining: false, address: { host: '', port: 0 } as HostPort };
  const t = startTraffic(config, options, logger, registry, state);
  // The HTTPS and HTTP/2 servers take the same settings (their HTTP/1.1 side reads them).
  const { maxConnections } = limitListener(t.server as unknown as Server, config, t.metrics, logger);
  // A listener that cannot bind ends start-up: stop what already runs (timers keep a process alive).
  const abortStart = (): void => {
    t.control.close();
    t.pools.destroy();
  };
  if (role.activeChecks) t.control.startChecks();
  let admin: Server | undefined;
  try {
    state.address = role.serveTraffic ? await listenOn(t.server, config.listen, 'listen') : parseHostPort(config.listen);
    if (role.admin) admin = await startAdmin(t, config, registry, options, () => state.draining);
  } catch (err) {
    if (role.serveTraffic) t.server.close();
    abortStart();
    throw err;
  }
  watchCertificates(t);
  const adminAddr = admin?.address();
  const adminAddress: HostPort = {
    host: parseHostPort(config.adminListen).host,
    port: typeof adminAddr === 'object' && adminAddr ? adminAddr.port : 0,
  };
  const { address } = state;
  logger.info(
    { listen: `${address.host}:${address.port}`, tls: t.listener.tls, admin: `${adminAddress.host}:${adminAddress.port}`, backends: t.planes.current.backends.map((b) => b.url), maxConnections: maxConnections ?? 'none' },
    `ha-proxy ${config.mode} listening`,
  );
  let stopping: Promise<void> | undefined;
  return {
    address,
    adminAddress,
    health: t.control.health,
    get router() {
      return t.planes.current.modeRouter;
    },
    status: () => t.control.status(state.draining),
    reloadCertificates: () => reloadCertificatesLogged(t.listener, logger, t.config.tls),
    reload: (next) => applyReload(t, next),
    stop: () => {
      state.draining = true;
      stopping ??= drainAndStop(t, admin);
      return stopping;
    },
  };
}
