// The health state machine of one backend, as pure functions over an immutable value.
//
// Vocabulary follows HAProxy's server checks (rise, fall, inter/fastinter/downinter): an UP backend goes DOWN after `fall`
// consecutive failed active checks, a DOWN one comes back after `rise` consecutive successes;
// while a change is under way checks run every `fastIntervalMs`, a stable DOWN backend is
// checked every `downIntervalMs`, a stable UP one every `intervalMs`, each +/- `jitter`.
// Passive checks (`observe layer7` / `error-limit`): `errorLimit` consecutive failures of real
// traffic (connect errors, resets, timeouts, 5xx) mark an UP backend DOWN at once; it then
// needs `rise` good active checks like any other DOWN backend.
//
// A backend starts UP "on probation": its streak is `fall - 1`, so the very first failed check
// takes it down, while a healthy backend serves traffic from the first request.
import { timerDelay } from '../net/timer-limit.js';

export interface BackendHealth {
  readonly up: boolean;
  /** Consecutive active-check results that disagree with `up` (failures while up, successes while down). */
  readonly streak: number;
  /** When `up` last changed (ms since the epoch); 0 when it never changed since start. */
  readonly since: number;
  /** Consecutive failures seen on real traffic. */
  readonly passiveErrors: number;
  /** The latest active check, for the status page and logs. */
  readonly lastCheck?: { readonly ok: boolean; readonly at: number; readonly detail: string };
}

export interface HealthParams {
  rise: number;
  fall: number;
  errorLimit: number;
  intervalMs: number;
  fastIntervalMs: number;
  downIntervalMs: number;
  jitter: number;
}

export type TransitionReason = 'check' | 'passive';

export interface Transition {
  readonly to: 'up' | 'down';
  readonly reason: TransitionReason;
  /** Why: the last check's detail, or the traffic failure. */
  readonly detail: string;
  /** How many consecutive results led to the change (rise, fall or errorLimit). */
  readonly count: number;
}

export interface Step {
  readonly health: BackendHealth;
  readonly transition?: Transition;
}

export function initialHealth(params: Pick<HealthParams, 'fall'>): BackendHealth {
  return { up: true, streak: Math.max(0, params.fall - 1), since: 0, passiveErrors: 0 };
}

/** One active check result. */
export function applyCheck(h: BackendHealth, ok: boolean, params: HealthParams, now: number, detail: string): Step {
  const lastCheck = { ok, at: now, detail };
  if (ok === h.up) return { health: { ...h, streak: 0, lastCheck } };
  const streak = h.streak + 1;
  const needed = h.up ? params.fall : params.rise;
  if (streak < needed) return { health: { ...h, streak, lastCheck } };
  return {
    health: { up: !h.up, streak: 0, since: now, passiveErrors: 0, lastCheck },
    transition: { to: h.up ? 'down' : 'up', reason: 'check', detail, count: streak },
  };
}

/**
 * One outcome of real traffic. Successes reset the error count; failures on a DOWN backend are
 * ignored (it gets no traffic by choice, and active checks decide when it returns).
 * Returns the same object when nothing changed, so the hot path allocates nothing.
 */
export function applyTraffic(h: BackendHealth, ok: boolean, params: HealthParams, now: number, detail: string): Step {
  if (ok) return h.passiveErrors === 0 ? { health: h } : { health: { ...h, passiveErrors: 0 } };
  if (!h.up || params.errorLimit === 0) return { health: h };
  const passiveErrors = h.passiveErrors + 1;
  if (passiveErrors < params.errorLimit) return { health: { ...h, passiveErrors } };
  return {
    // streak 0: the backend now needs `rise` good checks, checked at the fast interval.
    health: { up: false, streak: 0, since: now, passiveErrors: 0, lastCheck: h.lastCheck },
    transition: { to: 'down', reason: 'passive', detail, count: passiveErrors },
  };
}

/** Delay before the next active check, jittered so many proxies do not probe in lockstep. */
export function nextCheckDelay(h: BackendHealth, params: HealthParams, random: () => number = Math.random): number {
  // A passively-downed backend has streak 0 but is changing back: probe it fast too.
  const changing = h.streak > 0 || (!h.up && h.lastCheck?.ok !== false);
  const base = changing ? params.fastIntervalMs : h.up ? params.intervalMs : params.downIntervalMs;
  const spread = base * params.jitter * (2 * random() - 1);
  // Jitter can lift a maximal interval past Node's longest timer, which would fire at once.
  return timerDelay(Math.max(1, Math.round(base + spread)));
}
