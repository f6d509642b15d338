// When to restart a crashed child: exponential backoff from min to max, reset once the child has
// stayed up for STABLE_MS (a crash loop slows down; a rare crash restarts at once).

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
  return Math.min(options.maxDelayMs, options.minDelayMs * 2 ** (state.failures - 1));
}
