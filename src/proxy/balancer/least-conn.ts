// leastconn: the eligible backend with the fewest requests in flight relative to its weight.
// Ties rotate (by `tick`), so an idle cluster still spreads requests instead of piling them on
// the first backend. Pure: in-flight counts and the tie-breaker are parameters.

/** Eligible backend indexes, least loaded first (retry targets follow in load order). */
export function leastConnOrder(inflight: readonly number[], weights: readonly number[], eligible: readonly boolean[], tick: number): number[] {
  const n = weights.length;
  const order: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = (tick + k) % n;
    if (eligible[i]) order.push(i);
  }
  // Stable sort keeps the rotation among equally loaded backends.
  return order.sort((a, b) => inflight[a] / weights[a] - inflight[b] / weights[b]);
}
