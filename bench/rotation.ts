// Interleaved rounds: a noisy neighbour then hits every target alike, not the one measured last.

/** Each round visits every target, starting one further along, so no target always goes first. */
export function rotation<T>(items: T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
