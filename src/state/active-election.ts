// The election that makes the active backend of active-standby one decision for every proxy
// sharing a StateStore (Redis), keyed by backend name so proxies that reach a replica by
// different URLs still agree. Without it each proxy chose from its own health view, and in a
// partial partition (one proxy cut off from the primary) the proxy that still reached it failed
// back alone: the two disagreed 55 s of 60 and pushes split between replicas.
//
//   election:lease               this proxy's id, SET NX PX leaseMs; renewed (compare-and-PEXPIRE)
//                                every leaseMs/3; released (compare-and-DEL) on shutdown
//   election:epoch               fencing counter, INCR on taking the lease
//   election:active              the leader's choice {active, epoch, leader, unreachable}, written
//                                only while the writer holds the lease, TTL 2 * leaseMs
//   election:unreachable:<name>  "some proxy cannot reach <name>", rewritten every leaseMs/3 by
//                                each proxy whose own view has it DOWN, TTL leaseMs
//   election:failback            an operator's manual failback, for the leader
//   channel election             the same changes, pushed so they arrive at once
//
// The leader decides (active-choice.ts) from the fresh reports; every proxy, the leader too,
// routes to the choice while it is fresh (2 leases: enough for another proxy to take the lease of
// a dead leader). A proxy that cannot reach the choice reports it instead of choosing another.
// When no fresh choice exists (Redis down) each proxy routes on its own view, as without Redis,
// and says so in the log; the keys are reread after every reconnection.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { BackendHealth } from '../health/health-state.js';
import type { ElectionStatus, ElectionView, SharedChoice } from '../health/health-store.js';
import type { Logger } from '../observability/logger.js';
import { decideActive, NO_CHOICE, type ChoiceMemory, type ChoicePolicy } from './active-choice.js';
import type { StateStore } from './state-store.js';

const LEASE_KEY = 'election:lease';
const EPOCH_KEY = 'election:epoch';
const ACTIVE_KEY = 'election:active';
const FAILBACK_KEY = 'election:failback';
const CHANNEL = 'election';
const unreachableKey = (name: string): string => `election:unreachable:${name}`;

/** What the leader writes: the choice, who made it, and under which leadership. */
export interface ChoiceRecord {
  active: string | null;
  epoch: number;
  leader: string;
  unreachable: string[];
}

type ElectionMessage = { type: 'choice'; record: ChoiceRecord } | { type: 'report' } | { type: 'failback' };

export function parseChoiceRecord(value: unknown): ChoiceRecord | undefined {
  const r = value as Partial<ChoiceRecord> | null;
  if (!r || typeof r !== 'object') return undefined;
  if ((r.active !== null && typeof r.active !== 'string') || typeof r.epoch !== 'number' || typeof r.leader !== 'string' || !Array.isArray(r.unreachable)) return undefined;
  return r as ChoiceRecord;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a foreign or corrupt value: ignored
  }
}

export interface ElectionOptions {
  /** Backend names in priority order. */
  names: readonly string[];
  leaseMs: number;
  failback: ChoicePolicy;
  store: StateStore;
  /** This proxy's own health view, by backend index. */
  health: () => readonly BackendHealth[];
  logger: Logger;
  clock?: () => number;
}

export class ActiveElection implements ElectionView {
  readonly id = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  private leading = false;
  private epoch = 0;
  private memory: ChoiceMemory = NO_CHOICE;
  private failbackPending = false;
  private current: { record: ChoiceRecord; expiresAt: number; index: number } | undefined;
  /** The last choice seen, fresh or not: a new leader starts from it. */
  private lastActive: string | undefined;
  private readonly listeners: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private ticking = false;
  private tickAgain = false;
  private closed = false;
  private readonly clock: () => number;
  /** Names this proxy reported unreachable in its last heartbeat: only a new one is announced. */
  private reported = new Set<string>();
  /** The unknown backend name last warned about (once, not every heartbeat). */
  private unknownWarned: string | null | undefined;
  /** Backend names in priority order (a reload may change them). */
  private names: readonly string[];

  constructor(private readonly options: ElectionOptions) {
    this.clock = options.clock ?? Date.now;
    this.names = options.names;
    options.store.subscribe(CHANNEL, (message) => this.onMessage(message));
    options.store.onResync(() => this.requestTick());
    this.timer = setInterval(() => this.requestTick(), Math.max(1, Math.round(options.leaseMs / 3)));
    this.timer.unref();
  }

  private get choiceTtlMs(): number {
    return 2 * this.options.leaseMs;
  }

  choice(): SharedChoice | undefined {
    if (!this.current || this.clock() >= this.current.expiresAt) return undefined;
    return { active: this.current.index, epoch: this.current.record.epoch };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** A reload changed the backend list: the choice (a name) is found again at its new position. */
  setNames(names: readonly string[]): void {
    this.names = names;
    if (!this.current) return;
    const active = this.current.record.active;
    const index = active === null ? -1 : names.indexOf(active);
    this.current = index < 0 ? undefined : { ...this.current, index };
    this.emit();
  }

  requestFailback(): void {
    if (this.leading) {
      this.failbackPending = true;
      this.requestTick();
      return;
    }
    void this.options.store.set(FAILBACK_KEY, this.id, this.options.leaseMs);
    void this.publish({ type: 'failback' });
  }

  status(): ElectionStatus {
    const fresh = this.choice() !== undefined;
    const record = fresh ? this.current?.record : undefined;
    return {
      role: !fresh ? 'local' : this.leading ? 'leader' : 'follower',
      proxy: this.id,
      leader: record?.leader ?? null,
      epoch: record?.epoch ?? null,
      unreachable: record?.unreachable ?? [],
    };
  }

  /** A change in this proxy's own view: report it now rather than at the next heartbeat. */
  healthChanged(): void {
    this.requestTick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.listeners.length = 0;
    // Released at once, so another proxy takes over without waiting for the lease to expire.
    if (this.leading) await this.options.store.deleteIfEqual(LEASE_KEY, this.id);
  }

  private requestTick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.tickAgain) {
        this.tickAgain = false;
        this.requestTick();
      }
    });
  }

  /** One heartbeat: report, keep or take the lease, then decide (leader) or reread the choice. */
  private async tick(): Promise<void> {
    this.expireStaleChoice();
    await this.report();
    const { store, leaseMs } = this.options;
    if (this.leading && !(await store.renewIfEqual(LEASE_KEY, this.id, leaseMs))) this.stepDown('its lease could not be renewed');
    if (!this.leading && (await store.setIfAbsent(LEASE_KEY, this.id, leaseMs))) await this.takeLead();
    if (this.closed) return;
    if (this.leading) await this.decide();
    else await this.follow();
    this.expireStaleChoice();
  }

  private async report(): Promise<void> {
    const health = this.options.health();
    const writes = this.names.map((name, i) => {
      if (health[i]?.up !== false) return Promise.resolve(false);
      const detail = health[i].lastCheck?.detail ?? '';
      return this.options.store.set(unreachableKey(name), JSON.stringify({ proxy: this.id, detail }), this.options.leaseMs);
    });
    const wrote = await Promise.all(writes);
    const reported = new Set(this.names.filter((_name, i) => wrote[i]));
    const fresh = [...reported].some((name) => !this.reported.has(name));
    this.reported = reported;
    if (fresh && !this.leading) await this.publish({ type: 'report' });
  }

  private async takeLead(): Promise<void> {
    const { store } = this.options;
    // Carry on from the last leader's choice, not from scratch: a proxy that just started has
    // not read it yet, and with manual failback a fresh start would fail back on its own.
    const previous = parseChoiceRecord(parseJson(await store.get(ACTIVE_KEY)));
    const epoch = await store.increment(EPOCH_KEY, Math.max(this.epoch, previous?.epoch ?? 0));
    if (epoch === undefined) {
      await store.deleteIfEqual(LEASE_KEY, this.id);
      return;
    }
    this.leading = true;
    this.epoch = epoch;
    this.memory = { active: previous ? (previous.active ?? undefined) : this.lastActive, clearSince: {} };
    this.options.logger.warn({ proxy: this.id, epoch }, 'election: this proxy now leads the choice of the active backend');
  }

  private stepDown(why: string): void {
    this.leading = false;
    this.options.logger.warn({ proxy: this.id, epoch: this.epoch }, `election: this proxy stepped down: ${why}`);
  }

  private async decide(): Promise<void> {
    const { store } = this.options;
    const names = this.names;
    const reports = await Promise.all(names.map((name) => store.get(unreachableKey(name))));
    const own = this.options.health();
    const unreachable = new Set(names.filter((_name, i) => reports[i] !== undefined || own[i]?.up === false));
    let failbackRequested = this.failbackPending;
    if ((await store.get(FAILBACK_KEY)) !== undefined) {
      failbackRequested = true;
      await store.delete(FAILBACK_KEY);
    }
    this.failbackPending = false;
    const before = this.memory.active;
    this.memory = decideActive({ names, unreachable, policy: this.options.failback, now: this.clock(), failbackRequested }, this.memory);
    const record: ChoiceRecord = { active: this.memory.active ?? null, epoch: this.epoch, leader: this.id, unreachable: [...unreachable] };
    if (!(await store.setIfGuard(LEASE_KEY, this.id, ACTIVE_KEY, JSON.stringify(record), this.choiceTtlMs))) {
      this.stepDown('its choice could not be written under the lease');
      return;
    }
    if (record.active !== before) this.options.logger.warn({ active: record.active, from: before ?? null, unreachable: record.unreachable, epoch: this.epoch }, 'election: active backend chosen');
    this.accept(record, true);
    await this.publish({ type: 'choice', record });
  }

  private async follow(): Promise<void> {
    const record = parseChoiceRecord(parseJson(await this.options.store.get(ACTIVE_KEY)));
    if (record) this.accept(record, true);
  }

  /**
   * Applies a choice. From the key (the truth, written under the lease) always; from a message
   * only when its leadership is not older than the newest seen (a deposed leader's late message).
   */
  private accept(record: ChoiceRecord, fromKey: boolean): void {
    if (this.closed || (!fromKey && record.epoch < this.epoch)) return;
    const index = record.active === null ? -1 : this.names.indexOf(record.active);
    if (index < 0) {
      // Proxies configured with different backend names: following would send traffic nowhere.
      if (this.unknownWarned !== record.active) {
        this.unknownWarned = record.active;
        this.options.logger.warn({ active: record.active, leader: record.leader, names: this.names }, 'election: the leader chose a backend this proxy does not know; give every proxy the same backend names');
      }
      return;
    }
    const previous = this.choice();
    this.epoch = fromKey && !this.leading ? record.epoch : Math.max(this.epoch, record.epoch);
    this.current = { record, expiresAt: this.clock() + this.choiceTtlMs, index };
    this.lastActive = record.active ?? undefined;
    const next = this.choice();
    if (previous?.active === next?.active && previous !== undefined) return;
    if (previous === undefined) this.options.logger.info({ active: record.active, leader: record.leader, epoch: record.epoch }, 'election: following the elected active backend');
    this.emit();
  }

  private expireStaleChoice(): void {
    if (!this.current || this.clock() < this.current.expiresAt) return;
    this.current = undefined;
    this.options.logger.warn(
      { proxy: this.id, staleAfterMs: this.choiceTtlMs },
      'election: no fresh choice of the active backend (Redis unreachable?): this proxy routes on its own health view',
    );
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private onMessage(text: string): void {
    const message = parseJson(text) as ElectionMessage | undefined;
    if (message?.type === 'choice') {
      const record = parseChoiceRecord(message.record);
      if (record && record.leader !== this.id) this.accept(record, false);
    } else if (this.leading && (message?.type === 'report' || message?.type === 'failback')) {
      if (message.type === 'failback') this.failbackPending = true;
      this.requestTick();
    }
  }

  private async publish(message: ElectionMessage): Promise<void> {
    await this.options.store.publish(CHANNEL, JSON.stringify(message));
  }
}
