// The data plane: what serves traffic for one config. The backend descriptions, the mode router
// and the registry routing around it, and a lease on the forwarder's pools for these backends.
// Built at start-up and again at every reload; new requests are routed over the newest plane,
// and a request keeps the plane it began on to its end (PlaneSwitch), so a reload cuts nothing.
//
// What it gets from the control plane: health and admin states by the positions of its backend
// list (RoutingContext). What it gives back: traffic reports by backend name (candidate-walk.ts).
import type { Config } from '../config/types.js';
import type { StandbyEvent, StandbyState } from './balancer/active-standby.js';
import { describeBackends, type Backend, type ConnectionOptions } from './backend.js';
import { createModeRouter, type ModeRouter } from './mode-router.js';
import type { TrafficPlane } from './candidate-walk.js';
import { createRouting } from './routing/create-routing.js';
import type { RoutingEvents } from './routing/registry-router.js';
import type { Logger } from '../observability/logger.js';
import type { UpstreamPools } from './upstream-pools.js';

export interface DataPlane extends TrafficPlane {
  readonly config: Config;
  readonly modeRouter: ModeRouter;
}

export interface DataPlaneDeps {
  pools: UpstreamPools;
  routingEvents?: RoutingEvents;
  onBlobRedirect?: (backend: Backend) => void;
  /** The process's signing secret when none is configured: the same across reloads. */
  generatedSecret: Buffer;
  onStandbyEvent: (plane: DataPlane, event: StandbyEvent) => void;
  /** Given at start-up only: warnings about the config are logged once. */
  logger?: Logger;
}

export function connectionOptions(timeouts: Config['timeouts']): ConnectionOptions {
  const { connectMs, responseHeadersMs, idleMs, keepAliveIdleMs } = timeouts;
  return { connectMs, responseHeadersMs, idleMs, keepAliveIdleMs };
}

/** The active-standby choice of `previous`, found by name in the new list (undefined: it is gone). */
function carriedStandby(previous: DataPlane, backends: readonly Backend[]): StandbyState {
  const active = previous.modeRouter.standbyState().active;
  const name = active === undefined ? undefined : previous.backends[active]?.name;
  const index = backends.findIndex((b) => b.name === name);
  return { active: index < 0 ? undefined : index };
}

/** Throws a ConfigError for a backend whose TLS files cannot be read (the running plane stays). */
export function buildDataPlane(config: Config, deps: DataPlaneDeps, previous?: DataPlane): DataPlane {
  if (config.mode === 'registry') throw new Error('a data plane serves the proxy modes only');
  const backends = describeBackends(config.backends);
  const standby = previous ? carriedStandby(previous, backends) : undefined;
  const modeRouter = createModeRouter(config, (event) => deps.onStandbyEvent(plane, event), standby);
  const router = createRouting(config, modeRouter, { logger: deps.logger, events: deps.routingEvents, onBlobRedirect: deps.onBlobRedirect, generatedSecret: deps.generatedSecret });
  const plane: DataPlane = {
    config,
    backends,
    modeRouter,
    router,
    upstreams: deps.pools.acquire(backends, connectionOptions(config.timeouts)),
    backendOrigins: new Set(backends.map((b) => b.origin.toLowerCase())),
  };
  return plane;
}

/**
 * Which plane new requests use. A replaced plane gives its pool lease back once its last request
 * has ended: pools of removed or changed backends then close, after their requests finished.
 */
export class PlaneSwitch {
  private newest: DataPlane;
  private readonly requests = new Map<DataPlane, number>();

  constructor(
    first: DataPlane,
    private readonly pools: UpstreamPools,
  ) {
    this.newest = first;
  }

  get current(): DataPlane {
    return this.newest;
  }

  /** A request starts on the newest plane; `end` must be called once when it has ended. */
  begin(): { plane: DataPlane; end: () => void } {
    const plane = this.newest;
    this.requests.set(plane, (this.requests.get(plane) ?? 0) + 1);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const left = (this.requests.get(plane) ?? 1) - 1;
      if (left > 0) return void this.requests.set(plane, left);
      this.requests.delete(plane);
      if (plane !== this.newest) this.pools.release(plane.upstreams);
    };
    return { plane, end };
  }

  swap(next: DataPlane): void {
    const old = this.newest;
    this.newest = next;
    if (!this.requests.has(old)) this.pools.release(old.upstreams);
  }
}
