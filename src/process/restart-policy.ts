// When to restart a crashed child (a supervised replica, a proxy worker): exponential backoff
// from min to max, reset once the child has stayed up for STABLE_MS (a crash loop slows down; a
// rare crash restarts at once).
import { backoffDelay } from './backoff.js';

export const STABLE_MS = 60_000;

export interface RestartState {
  /** Consecutive quick crashes. */
  failures: number;
}

export interface RestartOptions {
  minDelayMs: number;
  maxDelayMs: number;
}

/** Delay before the next start, given how long the child ran; updates `state`. */
export function nextRestartDelay(state: RestartState, uptimeMs: number, options: RestartOptions): number {
  state.failures = uptimeMs >= STABLE_MS ? 1 : state.failures + 1;
  return backoffDelay(state.failures, { initialDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs, jitter: 0 });
}
