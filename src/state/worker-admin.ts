// Admin states across the processes of one proxy (`--workers N`): the primary owns the admin
// listener and with it the AdminStore (local, or shared through Redis); every change is sent
// to all workers at once as the whole table, so a worker routes with exactly the primary's
// states. A worker asks for the table when it starts (hello), as for health (worker-health.ts).
import type { BackendAdmin } from '../health/admin-state.js';
import { LocalAdminStore, type AdminListener, type AdminReindex, type AdminStore } from '../health/admin-store.js';
import { byName } from '../health/carry.js';
import type { Port } from './worker-health.js';

/** `names`: the primary's backend list, so a worker finds each state across a reload. */
export type AdminMessage = { type: 'ha-proxy:admin-hello' } | { type: 'ha-proxy:admin'; states: BackendAdmin[]; names?: string[] };

function isAdminMessage(message: unknown): message is AdminMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'ha-proxy:admin-hello' || type === 'ha-proxy:admin';
}

/** The primary's side: wraps the real store and mirrors it to the attached workers. */
export class AdminHub implements AdminStore {
  private readonly ports = new Set<Port>();

  constructor(
    private readonly inner: AdminStore,
    private names?: readonly string[],
  ) {
    inner.onChange(() => this.broadcast());
  }

  attach(port: Port): void {
    this.ports.add(port);
    port.onMessage((message) => {
      if (isAdminMessage(message) && message.type === 'ha-proxy:admin-hello') port.send(this.message());
    });
    port.send(this.message());
  }

  detach(port: Port): void {
    this.ports.delete(port);
  }

  snapshot(): readonly BackendAdmin[] {
    return this.inner.snapshot();
  }

  apply(index: number, admin: BackendAdmin): void {
    this.inner.apply(index, admin);
  }

  onChange(listener: AdminListener): void {
    this.inner.onChange(listener);
  }

  reindex(change: AdminReindex): void {
    this.inner.reindex(change);
    this.names = change.names;
    this.broadcast();
  }

  close(): void {
    this.inner.close();
    this.ports.clear();
  }

  private message(): AdminMessage {
    return { type: 'ha-proxy:admin', states: [...this.inner.snapshot()], ...(this.names ? { names: [...this.names] } : {}) };
  }

  private broadcast(): void {
    const message = this.message();
    for (const port of this.ports) port.send(message);
  }
}

/** A worker's side: the primary's latest table; changes come from the primary only. */
export class WorkerAdminStore extends LocalAdminStore {
  constructor(
    configuredWeights: readonly number[],
    port: Port,
    /** This worker's backend names; absent: the primary's positions are taken as they are. */
    private names?: readonly string[],
  ) {
    super(configuredWeights);
    port.onMessage((message) => {
      if (!isAdminMessage(message) || message.type !== 'ha-proxy:admin') return;
      const own = this.names;
      const states = message.names && own ? byName(own, message.names, message.states, (i) => this.states[i]) : message.states;
      states.forEach((admin, index) => {
        const current = this.states[index];
        if (current && (current.state !== admin.state || current.weight !== admin.weight || current.at !== admin.at)) this.commit(index, admin);
      });
    });
    port.send({ type: 'ha-proxy:admin-hello' } satisfies AdminMessage);
  }

  /** The admin listener, and with it every change, lives in the primary. */
  override apply(): void {}

  override reindex(change: AdminReindex): void {
    super.reindex(change);
    this.names = change.names;
  }
}
