// The in-memory StateStore: the default for a single proxy. Several stores can share one
// MemoryBackplane, which is how unit tests stand in for several proxies on one Redis.
import type { MessageHandler, StateStore } from './state-store.js';

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryBackplane {
  private readonly entries = new Map<string, Entry>();
  private readonly channels = new Map<string, Set<MessageHandler>>();

  constructor(readonly clock: () => number = Date.now) {}

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: string, ttlMs: number): boolean {
    this.entries.set(key, { value, expiresAt: this.clock() + ttlMs });
    return true;
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Renews an entry's TTL; false when it is absent or expired. */
  expire(key: string, ttlMs: number): boolean {
    const value = this.get(key);
    if (value === undefined) return false;
    return this.set(key, value, ttlMs);
  }

  subscribe(channel: string, handler: MessageHandler): () => void {
    const set = this.channels.get(channel) ?? new Set<MessageHandler>();
    set.add(handler);
    this.channels.set(channel, set);
    return () => set.delete(handler);
  }

  publish(channel: string, message: string): void {
    // Delivered on a later tick, like a network hop: a publisher never re-enters its own handler.
    for (const handler of this.channels.get(channel) ?? []) queueMicrotask(() => handler(message));
  }
}

export class MemoryStateStore implements StateStore {
  private readonly unsubscribers: (() => void)[] = [];

  constructor(private readonly backplane: MemoryBackplane = new MemoryBackplane()) {}

  async get(key: string): Promise<string | undefined> {
    return this.backplane.get(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.backplane.set(key, value, ttlMs);
  }

  async delete(key: string): Promise<boolean> {
    return this.backplane.delete(key);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.backplane.get(key) === undefined && this.backplane.set(key, value, ttlMs);
  }

  async renewIfEqual(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.backplane.get(key) === value && this.backplane.expire(key, ttlMs);
  }

  async deleteIfEqual(key: string, value: string): Promise<boolean> {
    return this.backplane.get(key) === value && this.backplane.delete(key);
  }

  async increment(key: string, floor: number): Promise<number> {
    const next = Math.max(Number(this.backplane.get(key) ?? 0) + 1, floor + 1);
    this.backplane.set(key, String(next), Number.MAX_SAFE_INTEGER);
    return next;
  }

  async setIfGuard(guardKey: string, guardValue: string, key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.backplane.get(guardKey) === guardValue && this.backplane.set(key, value, ttlMs);
  }

  async publish(channel: string, message: string): Promise<boolean> {
    this.backplane.publish(channel, message);
    return true;
  }

  subscribe(channel: string, handler: MessageHandler): void {
    this.unsubscribers.push(this.backplane.subscribe(channel, handler));
  }

  onResync(handler: () => void): void {
    // Memory never disconnects: one resync at start, so consumers share one code path with Redis.
    queueMicrotask(handler);
  }

  async close(): Promise<void> {
    for (const off of this.unsubscribers.splice(0)) off();
  }
}
