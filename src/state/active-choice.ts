// The decision the election's leader makes for every proxy sharing Redis in active-standby:
// which backend is active. Pure: a function of the fresh reports, the config, the previous
// choice and the clock, so it is table-tested without Redis.
//
// The rule. A backend is excluded while a fresh report from any proxy (the leader's own
// included) calls it unreachable. Then:
//   - the previous choice stays while it is not excluded, except for a failback: to the first
//     backend above it in priority order that is not excluded and, with `failback.mode: auto`,
//     has gone unreported for `failback.delayMs` (manual: only when an operator asked);
//   - without a previous choice, or when it is excluded, the first backend in priority order
//     that is not excluded;
//   - when every backend is excluded (each is unreachable from some proxy), the previous choice
//     stays, or the first backend without one: moving cannot help every proxy, and 503
//     everywhere would help none.

export interface ChoicePolicy {
  readonly mode: 'auto' | 'manual';
  readonly delayMs: number;
}

export interface ChoiceMemory {
  /** The backend (by name) chosen last; undefined before the first choice. */
  readonly active: string | undefined;
  /**
   * Since when (leader's clock) each backend has gone unreported, for the failback delay. A
   * backend missing here counts from the first decision that sees it unreported, so a new leader
   * waits the whole delay before it fails back: it cannot know how long the old one watched.
   */
  readonly clearSince: Readonly<Record<string, number>>;
}

export interface ChoiceInput {
  /** Backend names in priority order (config order). */
  readonly names: readonly string[];
  /** Names some fresh report calls unreachable. */
  readonly unreachable: ReadonlySet<string>;
  readonly policy: ChoicePolicy;
  readonly now: number;
  /** An operator asked for a manual failback (one shot). */
  readonly failbackRequested?: boolean;
}

export const NO_CHOICE: ChoiceMemory = { active: undefined, clearSince: {} };

function trackClear(input: ChoiceInput, previous: ChoiceMemory): Record<string, number> {
  const clearSince: Record<string, number> = {};
  for (const name of input.names) if (!input.unreachable.has(name)) clearSince[name] = previous.clearSince[name] ?? input.now;
  return clearSince;
}

function failbackTarget(input: ChoiceInput, current: string, clearSince: Record<string, number>): string {
  const { names, policy, now } = input;
  for (const name of names.slice(0, names.indexOf(current))) {
    if (input.unreachable.has(name)) continue;
    if (input.failbackRequested) return name;
    if (policy.mode === 'auto' && now - clearSince[name] >= policy.delayMs) return name;
  }
  return current;
}

export function decideActive(input: ChoiceInput, previous: ChoiceMemory): ChoiceMemory {
  const clearSince = trackClear(input, previous);
  const current = previous.active !== undefined && input.names.includes(previous.active) ? previous.active : undefined;
  let active: string | undefined;
  if (current !== undefined && !input.unreachable.has(current)) active = failbackTarget(input, current, clearSince);
  else active = input.names.find((name) => !input.unreachable.has(name)) ?? current ?? input.names[0];
  return { active, clearSince };
}
