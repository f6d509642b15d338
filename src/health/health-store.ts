// Where the health of every backend lives. The proxy reads it on every request (snapshot) and
// writes it from active checks and from real traffic.
//
// This interface is all the proxy knows about health. The local store below keeps it in process
// memory; the stores shared across workers or proxies (src/state) implement the same interface,
// keep `snapshot()` synchronous and local (the request path never waits on Redis) and call the transition listeners for changes learnt from peers as well as their own.
import { carried, type Carry } from './carry.js';
import { applyCheck, applyTraffic, initialHealth, type BackendHealth, type HealthParams, type Transition } from './health-state.js';

export type TransitionListener = (index: number, transition: Transition, health: BackendHealth) => void;

/** The active backend the proxies sharing state elected (active-standby), as long as it is fresh. */
export interface SharedChoice {
  /** Backend index. */
  readonly active: number;
  /** The leader's fencing counter: a choice from an older leadership never replaces a newer one. */
  readonly epoch: number;
}

/** What /status shows of the election. */
export interface ElectionStatus {
  /** leader: this proxy decides; follower: it applies a fresh choice; local: no fresh choice, own view. */
  readonly role: 'leader' | 'follower' | 'local';
  readonly proxy: string;
  readonly leader: string | null;
  readonly epoch: number | null;
  /** Backends the leader excluded because a proxy reported them unreachable. */
  readonly unreachable: readonly string[];
}

/** The shared decision on the active backend, seen from one proxy process. */
export interface ElectionView {
  /** The elected choice while fresh; undefined: none, the proxy decides on its own view. */
  choice(): SharedChoice | undefined;
  /** Runs after the choice changes or goes stale. */
  onChange(listener: () => void): void;
  /** An operator's manual failback, passed to the leader (who applies failback policy). */
  requestFailback(): void;
  status(): ElectionStatus | undefined;
  /** A reload changed the backend list (names in priority order). */
  setNames(names: readonly string[]): void;
}

/** A reload's new backend list, as the health stores see it. */
export interface HealthReindex {
  /** Whose state each backend of the new list keeps (same name and URL). */
  readonly carry: Carry;
  readonly names: readonly string[];
  /** The URLs without credentials (the keys shared through Redis). */
  readonly urls: readonly string[];
  /** rise, fall and intervals may have changed too: they apply from the next check on. */
  readonly params: HealthParams;
}

export interface HealthStore {
  /** The current health of every backend, by backend index. Cheap: called on every request. */
  snapshot(): readonly BackendHealth[];
  reportCheck(index: number, ok: boolean, detail: string): void;
  reportTraffic(index: number, ok: boolean, detail: string): void;
  /** Listeners run after each state change (up <-> down), whatever its source. */
  onTransition(listener: TransitionListener): void;
  /** A reload changed the backends: state moves to their new positions (carry.ts), no transition is reported. */
  reindex(change: HealthReindex): void;
  close(): void;
  /** Present when the active backend is a shared decision (active-standby with Redis). */
  readonly election?: ElectionView;
}

export class LocalHealthStore implements HealthStore {
  private states: BackendHealth[];
  private readonly listeners: TransitionListener[] = [];

  constructor(
    backendCount: number,
    private params: HealthParams,
    private readonly clock: () => number = Date.now,
  ) {
    this.states = Array.from({ length: backendCount }, () => initialHealth(params));
  }

  snapshot(): readonly BackendHealth[] {
    return this.states;
  }

  reportCheck(index: number, ok: boolean, detail: string): void {
    const step = applyCheck(this.states[index], ok, this.params, this.clock(), detail);
    this.commit(index, step.health, step.transition);
  }

  reportTraffic(index: number, ok: boolean, detail: string): void {
    const step = applyTraffic(this.states[index], ok, this.params, this.clock(), detail);
    this.commit(index, step.health, step.transition);
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  reindex(change: HealthReindex): void {
    this.params = change.params;
    this.states = carried(change.carry, this.states, () => initialHealth(change.params));
  }

  close(): void {
    this.listeners.length = 0;
  }

  private commit(index: number, health: BackendHealth, transition: Transition | undefined): void {
    this.states[index] = health;
    if (transition) for (const listener of this.listeners) listener(index, transition, health);
  }
}
