// Weighted round robin, the "smooth" variant nginx uses: each pick adds every eligible backend's
// weight to its running score, takes the highest score and subtracts the total from it. Weights
// 5:1:1 give a a b a c a a rather than a a a a a b c, so no backend gets a burst.
// Pure: the scores are explicit state; the caller keeps the returned array.

export interface RoundRobinPick {
  /** Eligible backend indexes, the pick first, then the rest in rotation order (retry targets). */
  readonly order: number[];
  readonly scores: number[];
}

export function smoothWeightedPick(scores: readonly number[], weights: readonly number[], eligible: readonly boolean[]): RoundRobinPick {
  const next = scores.slice();
  let total = 0;
  let best = -1;
  for (let i = 0; i < weights.length; i++) {
    if (!eligible[i]) continue;
    next[i] += weights[i];
    total += weights[i];
    if (best === -1 || next[i] > next[best]) best = i;
  }
  if (best === -1) return { order: [], scores: next };
  next[best] -= total;
  const order = [best];
  for (let k = 1; k < weights.length; k++) {
    const i = (best + k) % weights.length;
    if (eligible[i]) order.push(i);
  }
  return { order, scores: next };
}
