// Node keeps a timer's delay in a signed 32-bit millisecond count: a longer delay (past about
// 24.8 days) fires after 1 ms instead, with only a TimeoutOverflowWarning. Config durations are
// bounded by this in the schema; a delay computed from them (plus jitter or slack) is clamped.

export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms`, clamped to what setTimeout honours. */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
