// The control plane: what decides about backends, as opposed to serving traffic. The health
// store and the active checks, the operator's admin states, the failback timers, the log lines
// and metrics of health changes. It serves no request itself: it reads the data plane's backend
// list and mode router (DataPlaneView) and hands it health and admin states; traffic reports come
// back by backend name. With --workers the primary runs the checks and every worker runs a
// control plane fed by the primary's states (state/worker-*.ts).
import type { Config } from '../config/types.js';
import { ActiveChecker, type CheckResult } from '../health/active-checker.js';
import { takesNewRequests } from '../health/admin-state.js';
import { LocalAdminStore, type AdminStore } from '../health/admin-store.js';
import { carried, carryByKey } from '../health/carry.js';
import type { HealthParams } from '../health/health-state.js';
import { LocalHealthStore, type HealthStore } from '../health/health-store.js';
import { timerDelay } from '../net/timer-limit.js';
import type { Logger } from '../observability/logger.js';
import type { Backend } from './backend.js';
import type { DataPlane } from './data-plane.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import { proxyStatus, type HealthChange, type ProxyStatus } from './proxy-status.js';
import type { RoutingContext } from './route-decision.js';

export interface ControlPlaneOptions {
  logger: Logger;
  /** A health store shared with other workers or proxies (--workers, --redis). */
  createHealthStore?: (backendCount: number, params: HealthParams) => HealthStore;
  /** Admin states shared with workers or proxies (--workers, --redis); by default process-local. */
  createAdminStore?: (configuredWeights: readonly number[]) => AdminStore;
  /** Runs the active checks and logs health changes (false in a --workers worker). */
  ownsHealth: boolean;
}

/** What the control plane reads of the traffic side. */
export interface DataPlaneView {
  plane(): DataPlane;
  /** Requests in flight by backend name. */
  readonly inflight: ReadonlyMap<string, number>;
}

export function healthParams(hc: Config['healthCheck']): HealthParams {
  const { rise, fall, errorLimit, intervalMs, fastIntervalMs, downIntervalMs, jitter } = hc;
  return { rise, fall, errorLimit, intervalMs, fastIntervalMs, downIntervalMs, jitter };
}

/** Health is kept for the same server: the same name at the same URL. */
const healthKey = (b: Backend): string => `${b.name}\n${b.url}`;

export class ControlPlane {
  readonly health: HealthStore;
  readonly admin: AdminStore;
  private lastChanges: (HealthChange | undefined)[];
  private checker: ActiveChecker | undefined;
  private readonly failbackTimers = new Set<NodeJS.Timeout>();
  private indexByName = new Map<string, number>();
  /** Backends whose last check answered as a built-in registry (their replication figures go to /status). */
  private readonly builtIn = new Set<string>();
  /** Set while a reload moves states and planes: a refresh then would mix the old list and the new. */
  private reloading = false;

  constructor(
    private config: Config,
    private readonly view: DataPlaneView,
    private readonly metrics: ProxyMetrics,
    private readonly options: ControlPlaneOptions,
  ) {
    const backends = view.plane().backends;
    const params = healthParams(config.healthCheck);
    this.health = options.createHealthStore?.(backends.length, params) ?? new LocalHealthStore(backends.length, params);
    const weights = backends.map((b) => b.weight);
    this.admin = options.createAdminStore?.(weights) ?? new LocalAdminStore(weights);
    this.lastChanges = backends.map(() => undefined);
    this.indexBackends(backends);
    // The elected active backend moves traffic as soon as it changes, not at the next request.
    this.health.election?.onChange(() => this.refresh());
    this.admin.onChange((index, admin) => {
      const name = this.view.plane().backends[index]?.name;
      if (options.ownsHealth && name !== undefined) options.logger.warn({ backend: name, admin: admin.state, weight: admin.weight, reason: admin.reason }, `backend ${name} admin state ${admin.state.toUpperCase()}`);
      this.refresh();
    });
    this.health.onTransition((index, transition) => this.onTransition(index, transition));
  }

  routingContext(plane: { readonly backends: readonly Backend[] }): RoutingContext {
    const elected = this.health.election?.choice();
    return { backends: plane.backends, health: this.health.snapshot(), admin: this.admin.snapshot(), inflight: this.inflight(plane), now: Date.now(), ...(elected ? { elected } : {}) };
  }

  /** Requests in flight per position of `plane`'s backend list (counted by name, across planes). */
  inflight(plane: { readonly backends: readonly Backend[] }): number[] {
    return plane.backends.map((b) => this.view.inflight.get(b.name) ?? 0);
  }

  /** Passive health from a request; one to a backend a reload removed or moved elsewhere counts for nothing. */
  reportTraffic(backend: Backend, ok: boolean, detail: string): void {
    const index = this.indexByName.get(backend.name);
    if (index === undefined || this.view.plane().backends[index].url !== backend.url) return;
    this.health.reportTraffic(index, ok, detail);
  }

  takesTraffic(index: number): boolean {
    const health = this.health.snapshot()[index];
    if (this.config.mode === 'active-standby') return this.view.plane().modeRouter.activeIndex() === index && health?.up === true;
    return health?.up === true && takesNewRequests(this.admin.snapshot()[index]);
  }

  /** Re-evaluates active-standby now (a health, admin or election change; a failback request). */
  refresh(): void {
    if (this.reloading) return;
    const plane = this.view.plane();
    plane.modeRouter.refresh(this.routingContext(plane));
  }

  status(draining: boolean): ProxyStatus {
    const plane = this.view.plane();
    return proxyStatus({
      mode: this.config.mode,
      draining,
      backends: plane.backends,
      health: this.health,
      admin: this.admin.snapshot(),
      lastChanges: this.lastChanges,
      inflight: this.inflight(plane),
      active: plane.modeRouter.activeIndex(),
      takesTraffic: (i) => this.takesTraffic(i),
    });
  }

  startChecks(): void {
    if (!this.options.ownsHealth) return;
    const backends = this.view.plane().backends;
    const hc = this.config.healthCheck;
    this.checker?.stop();
    this.checker = new ActiveChecker(
      backends.map((b) => ({ index: b.index, url: b.url, authorization: b.authorization, tls: b.tls })),
      this.health,
      { ...healthParams(hc), path: hc.path, method: hc.method, expectStatus: hc.expectStatus, timeoutMs: hc.timeoutMs },
      (index, result) => {
        if (!result.skipped) {
          if (result.builtIn === true) this.builtIn.add(backends[index].name);
          else this.builtIn.delete(backends[index].name);
        }
        this.countCheck(backends[index], result);
      },
    );
    this.checker.start();
  }

  /**
   * Moves every per-backend state from `from`'s list to `to`'s (carry.ts), then `swap` puts the
   * new plane in place; all in one go, so no request sees states and backends of different lists.
   */
  reload(config: Config, from: DataPlane, to: DataPlane, swap: () => void): void {
    const healthCarry = carryByKey(from.backends.map(healthKey), to.backends.map(healthKey));
    const names = to.backends.map((b) => b.name);
    this.reloading = true;
    try {
      this.health.reindex({ carry: healthCarry, names, urls: to.backends.map((b) => b.url), params: healthParams(config.healthCheck) });
      this.admin.reindex({ carry: carryByKey(from.backends.map((b) => b.name), names), names, weights: to.backends.map((b) => b.weight) });
      this.lastChanges = carried(healthCarry, this.lastChanges, () => undefined);
      this.config = config;
      this.indexBackends(to.backends);
      swap();
    } finally {
      this.reloading = false;
    }
    if (this.checker) this.startChecks();
    this.refresh();
  }

  close(): void {
    this.checker?.stop();
    for (const timer of this.failbackTimers) clearTimeout(timer);
    this.health.close();
    this.admin.close();
  }

  private indexBackends(backends: readonly Backend[]): void {
    this.indexByName = new Map(backends.map((b) => [b.name, b.index]));
    // Series exist from the start (at 0), as dashboards expect, not from a backend's first request.
    for (const b of backends) this.metrics.backend(b.name);
  }

  private onTransition(index: number, transition: { to: 'up' | 'down'; reason: string; detail: string; count: number }): void {
    const backend = this.view.plane().backends[index];
    if (!backend) return;
    this.lastChanges[index] = { to: transition.to, reason: transition.reason, detail: transition.detail, at: new Date().toISOString() };
    this.metrics.stateChange(backend, transition.to, transition.reason);
    const fields = { backend: backend.name, state: transition.to.toUpperCase(), reason: transition.reason, detail: transition.detail, count: transition.count };
    // With --workers, only the process that owns health (the primary) logs its changes.
    if (this.options.ownsHealth) {
      if (transition.to === 'down') this.options.logger.warn(fields, `backend ${backend.name} is DOWN`);
      else this.options.logger.info(fields, `backend ${backend.name} is UP`);
    }
    this.refresh();
    const { mode, failback } = this.config;
    if (transition.to !== 'up' || mode !== 'active-standby' || failback.mode !== 'auto') return;
    // Failback after `failback.delayMs` must happen even when no request arrives to notice it.
    const timer = setTimeout(() => {
      this.failbackTimers.delete(timer);
      this.refresh();
    }, timerDelay(failback.delayMs + 1));
    timer.unref();
    this.failbackTimers.add(timer);
  }

  /** Metrics and logs for one active check; a skipped one (local resources short) is no verdict. */
  isBuiltIn(name: string): boolean {
    return this.builtIn.has(name);
  }

  private countCheck(backend: Backend, result: CheckResult): void {
    const m = this.metrics.backend(backend.name).checks;
    if (result.skipped) {
      m.skipped.inc();
      this.options.logger.warn({ backend: backend.name, detail: result.detail }, 'health check skipped: no verdict on the backend');
      return;
    }
    (result.ok ? m.success : m.failure).inc();
    if (!result.ok) this.options.logger.debug({ backend: backend.name, detail: result.detail }, 'health check failed');
  }
}
