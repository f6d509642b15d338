// What a reload keeps of per-backend state. Stores keep their state by backend position; when the
// backend list changes, each backend of the new list takes the state of the old backend with the
// same key (health: same name and URL, admin states: same name), and a new one starts afresh, so
// a reload never marks an UP backend DOWN, resets its rise/fall streak or forgets a drain.
// Pure: the stores apply the result.

/** For each backend of the new list, the position in the old list whose state it keeps; undefined: a fresh state. */
export type Carry = readonly (number | undefined)[];

export function carryByKey(before: readonly string[], after: readonly string[]): Carry {
  const positions = new Map<string, number>();
  before.forEach((key, i) => {
    if (!positions.has(key)) positions.set(key, i);
  });
  return after.map((key) => positions.get(key));
}

/** The new list's states: carried where `carry` says so, `fresh(i)` elsewhere. */
export function carried<T>(carry: Carry, previous: readonly T[], fresh: (index: number) => T): T[] {
  return carry.map((from, i) => (from === undefined || previous[from] === undefined ? fresh(i) : previous[from]));
}

/** States by backend name, laid onto `names` (another process's list may differ during a reload); `fallback` for names it lacks. */
export function byName<T>(names: readonly string[], fromNames: readonly string[], states: readonly T[], fallback: (index: number) => T): T[] {
  const index = new Map(fromNames.map((name, i) => [name, i]));
  return names.map((name, i) => {
    const from = index.get(name);
    return from === undefined || states[from] === undefined ? fallback(i) : states[from];
  });
}
