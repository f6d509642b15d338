// active-standby: all traffic to one backend, the highest-priority healthy one (config order),
// with failover when it goes down and failback to a better one that is back:
//   auto   - once that backend has stayed UP for `delayMs` (a flapping primary is not trusted);
//   manual - only when an operator asks (POST /failback on the admin listener).
// Pure: the current choice is an explicit state value, the clock a parameter.
import type { BackendHealth } from '../../health/health-state.js';

export interface StandbyState {
  /** Index of the backend taking traffic; undefined while no backend is healthy. */
  readonly active: number | undefined;
}

export interface FailbackPolicy {
  readonly mode: 'auto' | 'manual';
  readonly delayMs: number;
}

export type StandbyEventKind = 'failover' | 'failback' | 'activate' | 'deactivate';

export interface StandbyEvent {
  readonly kind: StandbyEventKind;
  readonly from: number | undefined;
  readonly to: number | undefined;
}

export interface StandbyStep {
  readonly state: StandbyState;
  readonly event?: StandbyEvent;
}

export const INITIAL_STANDBY_STATE: StandbyState = { active: 0 };

function firstUp(health: readonly BackendHealth[], below = health.length, eligible: (h: BackendHealth) => boolean = () => true): number | undefined {
  for (let i = 0; i < below; i++) if (health[i].up && eligible(health[i])) return i;
  return undefined;
}

/** Decides which backend is active now. `failbackRequested` is the operator's one-shot manual failback. */
export function stepActiveStandby(
  state: StandbyState,
  health: readonly BackendHealth[],
  now: number,
  policy: FailbackPolicy,
  failbackRequested = false,
): StandbyStep {
  const current = state.active;
  let next: number | undefined;
  if (current === undefined || !health[current]?.up) {
    next = firstUp(health);
  } else if (failbackRequested) {
    next = firstUp(health, current) ?? current;
  } else if (policy.mode === 'auto') {
    // `since === 0`: UP since start, never flapped, so nothing to wait for.
    const settled = (h: BackendHealth) => h.since === 0 || now - h.since >= policy.delayMs;
    next = firstUp(health, current, settled) ?? current;
  } else {
    next = current;
  }
  return moveTo(state, next, health);
}

/**
 * With an elected choice (proxies sharing state), the leader's choice is the active backend
 * whatever this proxy's own view says: the leader applied the failover and failback policy, and
 * a proxy that cannot reach the choice has reported so (see src/state/active-choice.ts).
 */
export function followElected(state: StandbyState, elected: number, health: readonly BackendHealth[]): StandbyStep {
  return moveTo(state, elected, health);
}

function moveTo(state: StandbyState, next: number | undefined, health: readonly BackendHealth[]): StandbyStep {
  const current = state.active;
  if (next === current) return { state };
  // Leaving a backend that went down is a failover, whichever way it goes; leaving a healthy
  // one for a better one is a failback, for a worse one (an elected move) a failover.
  const kind: StandbyEventKind =
    next === undefined ? 'deactivate' : current === undefined ? 'activate' : health[current]?.up && next < current ? 'failback' : 'failover';
  return { state: { active: next }, event: { kind, from: current, to: next } };
}

/** The active backend first, then every other healthy one in priority order (retry targets). */
export function standbyOrder(active: number | undefined, health: readonly BackendHealth[]): number[] {
  if (active === undefined) return [];
  const order = [active];
  for (let i = 0; i < health.length; i++) if (i !== active && health[i].up) order.push(i);
  return order;
}
