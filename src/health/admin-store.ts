// Where the operator's admin states live at run time. The proxy reads `snapshot()` on every
// request (synchronous, local: never waits on Redis or on another process) and the admin API
// writes through `apply()`. This process-local store is the default; the primary of --workers
// mirrors it to its workers (src/state/worker-admin.ts) and with Redis it is shared between
// proxies (src/state/shared-admin-store.ts), all behind this interface.
import { initialAdmin, type BackendAdmin } from './admin-state.js';
import { carried, type Carry } from './carry.js';

export type AdminListener = (index: number, admin: BackendAdmin) => void;

/** A reload's new backend list, as the admin stores see it. */
export interface AdminReindex {
  /** Whose admin state each backend of the new list keeps (same name). */
  readonly carry: Carry;
  readonly names: readonly string[];
  readonly weights: readonly number[];
}

/**
 * A kept admin state: an operator's change stays; one never changed takes the new configured
 * weight (a reload that changes `weight` must change what the balancers use).
 */
export function reloadedAdmin(change: AdminReindex, previous: readonly BackendAdmin[]): BackendAdmin[] {
  const kept = carried(change.carry, previous, (i) => initialAdmin(change.weights[i]));
  return kept.map((admin, i) => (admin.at === 0 ? initialAdmin(change.weights[i]) : admin));
}

export interface AdminStore {
  /** By backend index. Cheap: called on every request. */
  snapshot(): readonly BackendAdmin[];
  /** An operator's change, made here and passed on to whoever shares the state. */
  apply(index: number, admin: BackendAdmin): void;
  /** Runs after every change, local or learnt from a peer. */
  onChange(listener: AdminListener): void;
  /** A reload changed the backends: states move to their new positions (reloadedAdmin). */
  reindex(change: AdminReindex): void;
  close(): void;
}

export class LocalAdminStore implements AdminStore {
  protected states: BackendAdmin[];
  private readonly listeners: AdminListener[] = [];

  constructor(configuredWeights: readonly number[]) {
    this.states = configuredWeights.map(initialAdmin);
  }

  snapshot(): readonly BackendAdmin[] {
    return this.states;
  }

  apply(index: number, admin: BackendAdmin): void {
    this.commit(index, admin);
  }

  onChange(listener: AdminListener): void {
    this.listeners.push(listener);
  }

  reindex(change: AdminReindex): void {
    this.states = reloadedAdmin(change, this.states);
  }

  close(): void {
    this.listeners.length = 0;
  }

  /** Sets one backend's state and tells the listeners (also for changes learnt from peers). */
  protected commit(index: number, admin: BackendAdmin): void {
    if (index < 0 || index >= this.states.length) return;
    this.states[index] = admin;
    for (const listener of this.listeners) listener(index, admin);
  }
}
