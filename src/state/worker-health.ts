// Health state across the processes of one proxy (`--workers N`). The primary is the one truth:
// it runs the active checks and owns the HealthStore (local, or shared with other proxies through
// Redis); workers route with a copy of its snapshot and send it their traffic outcomes, which the
// primary folds into the passive checks. Every change is broadcast at once, so all workers flip
// to the standby together and a passive failure seen by one worker counts for all. With Redis
// in active-standby the primary's elected active backend travels with the snapshot.
//
// The channel is an abstract Port so this is testable without node:cluster; cluster-ports.ts
// adapts cluster workers and process IPC to it.
import { byName, carried } from '../health/carry.js';
import { initialHealth, type BackendHealth, type HealthParams, type Transition } from '../health/health-state.js';
import type { ElectionView, HealthReindex, HealthStore, SharedChoice, TransitionListener } from '../health/health-store.js';

export interface Port {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

export type HealthMessage =
  | { type: 'ha-proxy:health-hello' }
  // `names` (the primary's backend list) lets a worker find each state while a reload has given
  // the two processes different lists for a moment; indexes are positions in that list.
  | { type: 'ha-proxy:health'; states: BackendHealth[]; names?: string[]; change?: { index: number; transition: Transition }; choice?: SharedChoice }
  | { type: 'ha-proxy:traffic'; index: number; name?: string; ok: boolean; detail: string };

function isHealthMessage(message: unknown): message is HealthMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'ha-proxy:health-hello' || type === 'ha-proxy:health' || type === 'ha-proxy:traffic';
}

/**
 * The primary's side: wraps the real store (given to the active checker and the admin server)
 * and mirrors every change of it to the attached workers.
 */
export class HealthHub implements HealthStore {
  private readonly ports = new Set<Port>();

  constructor(
    private readonly inner: HealthStore,
    private names?: readonly string[],
  ) {
    inner.onTransition((index, transition) => this.broadcast({ index, transition }));
    // The elected active backend reaches the workers with the health they route on.
    inner.election?.onChange(() => this.broadcast());
  }

  get election(): ElectionView | undefined {
    return this.inner.election;
  }

  attach(port: Port): void {
    this.ports.add(port);
    port.onMessage((message) => {
      if (!isHealthMessage(message)) return;
      if (message.type === 'ha-proxy:health-hello') port.send(this.message());
      else if (message.type === 'ha-proxy:traffic') {
        const index = message.name !== undefined && this.names ? this.names.indexOf(message.name) : message.index;
        // A report about a backend a reload just removed: nothing to count.
        if (index >= 0 && index < this.inner.snapshot().length) this.reportTraffic(index, message.ok, message.detail);
      }
    });
    port.send(this.message());
  }

  detach(port: Port): void {
    this.ports.delete(port);
  }

  snapshot(): readonly BackendHealth[] {
    return this.inner.snapshot();
  }

  reportCheck(index: number, ok: boolean, detail: string): void {
    const before = this.inner.snapshot()[index];
    this.inner.reportCheck(index, ok, detail);
    // Transitions were broadcast by the listener; other changes (streaks, last check) go here.
    if (this.inner.snapshot()[index] !== before && this.inner.snapshot()[index].up === before.up) this.broadcast();
  }

  reportTraffic(index: number, ok: boolean, detail: string): void {
    const before = this.inner.snapshot()[index];
    this.inner.reportTraffic(index, ok, detail);
    if (this.inner.snapshot()[index] !== before && this.inner.snapshot()[index].up === before.up) this.broadcast();
  }

  onTransition(listener: TransitionListener): void {
    this.inner.onTransition(listener);
  }

  reindex(change: HealthReindex): void {
    this.inner.reindex(change);
    this.names = change.names;
    this.broadcast();
  }

  close(): void {
    this.inner.close();
    this.ports.clear();
  }

  private message(change?: { index: number; transition: Transition }): HealthMessage {
    const choice = this.inner.election?.choice();
    const names = this.names ? { names: [...this.names] } : {};
    return { type: 'ha-proxy:health', states: [...this.inner.snapshot()], ...names, ...(change ? { change } : {}), ...(choice ? { choice } : {}) };
  }

  private broadcast(change?: { index: number; transition: Transition }): void {
    const message = this.message(change);
    for (const port of this.ports) port.send(message);
  }
}

/** A worker's side: a HealthStore that reads the primary's latest snapshot and reports to it. */
export class WorkerHealthStore implements HealthStore {
  private states: BackendHealth[];
  private readonly listeners: TransitionListener[] = [];
  private choice: SharedChoice | undefined;
  private readonly choiceListeners: (() => void)[] = [];
  /** The primary's elected choice, as last sent: the primary tells when it goes stale. */
  readonly election: ElectionView = {
    choice: () => this.choice,
    onChange: (listener) => void this.choiceListeners.push(listener),
    // The admin listener, and with it /failback, lives in the primary.
    requestFailback: () => {},
    status: () => undefined,
    // The primary's choice is mapped onto this worker's list as it arrives.
    setNames: () => {},
  };

  constructor(
    backendCount: number,
    private params: Pick<HealthParams, 'fall'>,
    private readonly port: Port,
    /** This worker's backend names; absent: the primary's positions are taken as they are. */
    private names?: readonly string[],
  ) {
    // Until the primary answers, start where the primary starts: every backend up on probation.
    this.states = Array.from({ length: backendCount }, () => initialHealth(params));
    port.onMessage((message) => {
      if (!isHealthMessage(message) || message.type !== 'ha-proxy:health') return;
      this.receive(message);
    });
    port.send({ type: 'ha-proxy:health-hello' } satisfies HealthMessage);
  }

  private receive(message: Extract<HealthMessage, { type: 'ha-proxy:health' }>): void {
    const from = message.names;
    const own = this.names;
    // A position in the primary's list -> the same backend's position here (-1: not in this list).
    const local = (index: number): number => (from && own ? own.indexOf(from[index]) : index);
    this.states = from && own ? byName(own, from, message.states, (i) => this.states[i] ?? initialHealth(this.params)) : message.states;
    const active = message.choice ? local(message.choice.active) : -1;
    const choice = message.choice && active >= 0 ? { active, epoch: message.choice.epoch } : undefined;
    const choiceChanged = choice?.active !== this.choice?.active || choice?.epoch !== this.choice?.epoch;
    this.choice = choice;
    if (choiceChanged) for (const listener of this.choiceListeners) listener();
    const changed = message.change ? local(message.change.index) : -1;
    if (message.change && changed >= 0) for (const listener of this.listeners) listener(changed, message.change.transition, this.states[changed]);
  }

  snapshot(): readonly BackendHealth[] {
    return this.states;
  }

  /** Active checks run in the primary only. */
  reportCheck(): void {}

  reportTraffic(index: number, ok: boolean, detail: string): void {
    // The hot path: a success changes nothing unless the primary is counting errors, so the
    // common case sends no message at all.
    if (ok && this.states[index]?.passiveErrors === 0) return;
    const name = this.names?.[index];
    this.port.send({ type: 'ha-proxy:traffic', index, ...(name === undefined ? {} : { name }), ok, detail } satisfies HealthMessage);
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  /** Kept states until the primary's next snapshot, which follows its own reload. */
  reindex(change: HealthReindex): void {
    this.params = change.params;
    this.states = carried(change.carry, this.states, () => initialHealth(change.params));
    this.names = change.names;
    // A choice by position in the old list means nothing in the new one until the primary speaks.
    if (this.choice) {
      this.choice = undefined;
      for (const listener of this.choiceListeners) listener();
    }
  }

  close(): void {
    this.listeners.length = 0;
  }
}
