// Capped exponential backoff, the one formula behind every retry loop: supervised child and
// worker restarts (restart-policy.ts), replication retries and peer probes, Redis reconnects.

export interface BackoffOptions {
  /** The delay before the first retry (attempt 1); each further attempt doubles it. */
  initialDelayMs: number;
  maxDelayMs: number;
  /**
   * Fraction of the delay added or removed at random (0 = deterministic). The default 0.2
   * spreads the retries of many tasks that failed together against one peer.
   */
  jitter?: number;
}

/** Delay before attempt `attempt` (1 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = options.jitter ?? 0.2;
  const delay = base * (1 - jitter + 2 * jitter * random());
  return Math.max(0, Math.round(Math.min(delay, options.maxDelayMs)));
}
