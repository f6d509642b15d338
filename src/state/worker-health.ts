// Health state across the processes of one proxy (`--workers N`). The primary is the one truth:
// it runs the active checks and owns the HealthStore (local, or shared with other proxies through
// Redis); workers route with a copy of its snapshot and send it their traffic outcomes, which the
// primary folds into the passive checks. Every change is broadcast at once, so all workers flip
// to the standby together and a passive failure seen by one worker counts for all. With Redis
// in active-standby the primary's elected active backend travels with the snapshot.
//
// The channel is an abstract Port so this is testable without node:cluster; cluster-ports.ts
// adapts cluster workers and process IPC to it.
import { initialHealth, type BackendHealth, type HealthParams, type Transition } from '../health/health-state.js';
import type { ElectionView, HealthStore, SharedChoice, TransitionListener } from '../health/health-store.js';

export interface Port {
  send(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
}

export type HealthMessage =
  | { type: 'ha-proxy:health-hello' }
  | { type: 'ha-proxy:health'; states: BackendHealth[]; change?: { index: number; transition: Transition }; choice?: SharedChoice }
  | { type: 'ha-proxy:traffic'; index: number; ok: boolean; detail: string };

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

  constructor(private readonly inner: HealthStore) {
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
      else if (message.type === 'ha-proxy:traffic') this.reportTraffic(message.index, message.ok, message.detail);
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

  close(): void {
    this.inner.close();
    this.ports.clear();
  }

  private message(change?: { index: number; transition: Transition }): HealthMessage {
    const choice = this.inner.election?.choice();
    return { type: 'ha-proxy:health', states: [...this.inner.snapshot()], ...(change ? { change } : {}), ...(choice ? { choice } : {}) };
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
  };

  constructor(
    backendCount: number,
    params: Pick<HealthParams, 'fall'>,
    private readonly port: Port,
  ) {
    // Until the primary answers, start where the primary starts: every backend up on probation.
    this.states = Array.from({ length: backendCount }, () => initialHealth(params));
    port.onMessage((message) => {
      if (!isHealthMessage(message) || message.type !== 'ha-proxy:health') return;
      this.states = message.states;
      const choiceChanged = message.choice?.active !== this.choice?.active || message.choice?.epoch !== this.choice?.epoch;
      this.choice = message.choice;
      if (choiceChanged) for (const listener of this.choiceListeners) listener();
      if (message.change) for (const listener of this.listeners) listener(message.change.index, message.change.transition, this.states[message.change.index]);
    });
    port.send({ type: 'ha-proxy:health-hello' } satisfies HealthMessage);
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
    this.port.send({ type: 'ha-proxy:traffic', index, ok, detail } satisfies HealthMessage);
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.listeners.length = 0;
  }
}
