// Capped exponential backoff with jitter for replication retries and peer probes.

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Fraction of the delay added or removed at random (0 = deterministic). */
  jitter?: number;
}

/** Delay before attempt `attempt` (1 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = options.jitter ?? 0.2;
  const delay = base * (1 - jitter + 2 * jitter * random());
  return Math.max(0, Math.round(Math.min(delay, options.maxDelayMs)));
}
