// The Router for the two proxy modes: a thin stateful shell around the pure pickers in
// balancer/. It keeps the small state those pickers need (the active backend, round-robin
// scores, a tie-breaking tick) and reports active-standby changes to a listener.
import type { Config } from '../config/types.js';
import { followElected, INITIAL_STANDBY_STATE, standbyOrder, stepActiveStandby, type StandbyEvent, type StandbyState } from './balancer/active-standby.js';
import { leastConnOrder } from './balancer/least-conn.js';
import { smoothWeightedPick } from './balancer/round-robin.js';
import { effectiveWeight, healthForNewRequests, takesNewRequests } from '../health/admin-state.js';
import type { Backend } from './backend.js';
import type { RequestFacts, RouteDecision, Router, RoutingContext } from './route-decision.js';

export interface ModeRouter extends Router {
  /** The backend active-standby sends traffic to (undefined in active-active or when none is healthy). */
  activeIndex(): number | undefined;
  /** Manual failback: the next routing decision moves traffic back to the best healthy backend. */
  requestFailback(): void;
  /** Re-evaluates active-standby without a request (after a health change or on a timer). */
  refresh(ctx: RoutingContext): void;
  /** What a reload hands to the next mode router (by position: the caller maps it to the new list). */
  standbyState(): StandbyState;
}

export type ModeConfig = Pick<Config, 'mode' | 'balance' | 'retries' | 'failback'>;

function pickBackends(backends: readonly Backend[], order: readonly number[]): Backend[] {
  return order.map((i) => backends[i]);
}

export function createModeRouter(config: ModeConfig, onStandbyEvent: (event: StandbyEvent) => void = () => {}, initial: StandbyState = INITIAL_STANDBY_STATE): ModeRouter {
  let standby: StandbyState = initial;
  let failbackRequested = false;
  let scores: number[] = [];
  let tick = 0;
  const retries = config.retries;

  // A drained or maintained backend is no candidate for the active role: new requests move to
  // the next ready one (an elected choice included: the admin states are shared, so every
  // proxy steps aside the same way), while its upload sessions still reach it (registry-router).
  const stepStandby = (ctx: RoutingContext): number | undefined => {
    const health = healthForNewRequests(ctx.health, ctx.admin);
    const step =
      ctx.elected && takesNewRequests(ctx.admin?.[ctx.elected.active])
        ? followElected(standby, ctx.elected.active, health)
        : stepActiveStandby(standby, health, ctx.now, config.failback, failbackRequested);
    failbackRequested = false;
    if (step.event) {
      standby = step.state;
      onStandbyEvent(step.event);
    }
    return standby.active;
  };

  const routeStandby = (_facts: RequestFacts, ctx: RoutingContext): RouteDecision => ({
    candidates: pickBackends(ctx.backends, standbyOrder(stepStandby(ctx), healthForNewRequests(ctx.health, ctx.admin))),
    retries,
  });

  const eligible = (ctx: RoutingContext): boolean[] => ctx.health.map((h, i) => h.up && takesNewRequests(ctx.admin?.[i]));
  const weights = (ctx: RoutingContext): number[] => ctx.backends.map((b) => effectiveWeight(b.weight, ctx.admin?.[b.index]));

  const routeRoundRobin = (_facts: RequestFacts, ctx: RoutingContext): RouteDecision => {
    if (scores.length !== ctx.backends.length) scores = new Array<number>(ctx.backends.length).fill(0);
    const pick = smoothWeightedPick(scores, weights(ctx), eligible(ctx));
    scores = pick.scores;
    return { candidates: pickBackends(ctx.backends, pick.order), retries };
  };

  const routeLeastConn = (_facts: RequestFacts, ctx: RoutingContext): RouteDecision => ({
    candidates: pickBackends(ctx.backends, leastConnOrder(ctx.inflight, weights(ctx), eligible(ctx), tick++)),
    retries,
  });

  const route = config.mode === 'active-standby' ? routeStandby : config.balance === 'leastconn' ? routeLeastConn : routeRoundRobin;
  return {
    route,
    activeIndex: () => (config.mode === 'active-standby' ? standby.active : undefined),
    requestFailback: () => {
      failbackRequested = true;
    },
    refresh: (ctx) => {
      if (config.mode === 'active-standby') stepStandby(ctx);
    },
    standbyState: () => standby,
  };
}
