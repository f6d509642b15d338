// Admin states shared between proxies through a StateStore (Redis): draining a backend on one
// proxy drains it on all. One key per backend name holds its latest admin record (the truth);
// a message on the admin channel makes the change arrive at once; after every (re)connection
// each proxy rereads the keys, because pub/sub loses messages while a connection is down. The
// newest record wins (by the time the operator made it), so a stale key never undoes a newer
// change. The request path reads the local copy only: it never waits on Redis.
//
// A change made while Redis is unreachable holds locally and is written at the next
// reconnection (instead of being overwritten by the older key).
import { randomUUID } from 'node:crypto';
import { isAdminState, type BackendAdmin } from '../health/admin-state.js';
import { LocalAdminStore, type AdminReindex } from '../health/admin-store.js';
import type { StateStore } from './state-store.js';

export const ADMIN_CHANNEL = 'admin';
export const adminKey = (backendName: string): string => `admin:${backendName}`;
/**
 * Keys in the store all carry a TTL; an operator's decision should last until changed, so a
 * long one: a year.
 */
export const ADMIN_KEY_TTL_MS = 365 * 24 * 3600 * 1000;

export interface AdminRecord extends BackendAdmin {
  origin: string;
  name: string;
}

export function parseAdminRecord(text: string): AdminRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<AdminRecord>;
    const valid =
      typeof r.origin === 'string' && typeof r.name === 'string' && isAdminState(r.state) && typeof r.weight === 'number' && typeof r.at === 'number' && typeof r.reason === 'string';
    if (valid) return r as AdminRecord;
  } catch {
    // a foreign or corrupt value: ignored
  }
  return undefined;
}

/** Whether a record from the store replaces what this proxy has: only a newer one does. */
export function shouldAdoptAdmin(local: BackendAdmin, record: AdminRecord, self: string): boolean {
  return record.origin !== self && record.at > local.at;
}

export class SharedAdminStore extends LocalAdminStore {
  readonly origin = randomUUID();
  private unsynced = new Set<number>();
  private closed = false;

  constructor(
    private names: readonly string[],
    configuredWeights: readonly number[],
    private readonly store: StateStore,
  ) {
    super(configuredWeights);
    store.subscribe(ADMIN_CHANNEL, (message) => {
      const record = parseAdminRecord(message);
      if (record) this.adopt(record);
    });
    store.onResync(() => void this.resync());
  }

  override apply(index: number, admin: BackendAdmin): void {
    this.commit(index, admin);
    void this.write(index, true);
  }

  /** Keys are by backend name: a reload only moves the local copies (an unsynced change stays unsynced). */
  override reindex(change: AdminReindex): void {
    super.reindex(change);
    const unsynced = new Set<number>();
    change.carry.forEach((from, i) => {
      if (from !== undefined && this.unsynced.has(from)) unsynced.add(i);
    });
    this.unsynced = unsynced;
    this.names = change.names;
    // A backend the reload added may already be drained on another proxy.
    void this.resync();
  }

  override close(): void {
    this.closed = true;
    super.close();
  }

  async resync(): Promise<void> {
    await Promise.all(
      this.names.map(async (name, index) => {
        if (this.unsynced.has(index)) return this.write(index, false);
        const text = await this.store.get(adminKey(name));
        const record = text === undefined ? undefined : parseAdminRecord(text);
        if (record) this.adopt(record);
      }),
    );
  }

  private async write(index: number, announce: boolean): Promise<void> {
    const record: AdminRecord = { ...this.states[index], origin: this.origin, name: this.names[index] };
    const text = JSON.stringify(record);
    if (await this.store.set(adminKey(record.name), text, ADMIN_KEY_TTL_MS)) this.unsynced.delete(index);
    else this.unsynced.add(index);
    if (announce) void this.store.publish(ADMIN_CHANNEL, text);
  }

  private adopt(record: AdminRecord): void {
    const index = this.names.indexOf(record.name);
    if (this.closed || index === -1 || !shouldAdoptAdmin(this.states[index], record, this.origin)) return;
    // A newer record from elsewhere wins over a local change that never reached the store.
    this.unsynced.delete(index);
    const { state, weight, at, reason } = record;
    this.commit(index, { state, weight, at, reason });
  }
}
