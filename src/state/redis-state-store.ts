// The Redis StateStore (ioredis), for several proxies sharing state. Two connections: commands,
// and a separate one for SUBSCRIBE (a subscribed connection can run nothing else). The command
// connection has no offline queue and a short command timeout, so while Redis is down or slow
// every call resolves at once (or within `commandTimeoutMs`) to "no answer" and callers use
// their local state: a request never waits on Redis.
import { Redis, type RedisOptions } from 'ioredis';
import { backoffDelay } from '../process/backoff.js';
import type { MessageHandler, StateStore } from './state-store.js';

/**
 * Reconnect quickly at first, then every 2 s at most: a proxy must notice Redis coming back.
 * ioredis counts attempts from 1.
 */
export const redisRetryDelay = (attempt: number): number => backoffDelay(attempt, { initialDelayMs: 200, maxDelayMs: 2000, jitter: 0 });

// Compare-and-act scripts: each check and its action run as one step inside Redis, so a lease
// that expired and went to another proxy between the two can never be renewed, released or
// written under by its former owner.
const RENEW_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const INCREMENT_ABOVE = `local v = redis.call('INCR', KEYS[1]) local floor = tonumber(ARGV[1])
if v <= floor then v = floor + 1 redis.call('SET', KEYS[1], v) end return v`;
const SET_IF_GUARD = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  /** Told when the connection goes down or comes back (once per change, not per command). */
  onStatus?: (up: boolean, detail: string) => void;
}

export class RedisStateStore implements StateStore {
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly handlers = new Map<string, MessageHandler[]>();
  private readonly resyncHandlers: (() => void)[] = [];
  private up = false;
  private closed = false;
  private resyncPending = false;

  constructor(private readonly options: RedisStoreOptions) {
    const base: RedisOptions = {
      retryStrategy: redisRetryDelay,
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
    };
    this.commands = new Redis(options.url, {
      ...base,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs,
      maxRetriesPerRequest: 0,
    });
    // The subscriber may queue its SUBSCRIBE until connected: nobody waits on it.
    this.subscriber = new Redis(options.url, { ...base, autoResubscribe: true, maxRetriesPerRequest: null });
    this.commands.on('error', () => {}); // reported through the status changes below
    this.subscriber.on('error', () => {});
    this.commands.on('ready', () => this.setUp(true, 'connected'));
    this.commands.on('close', () => this.setUp(false, 'connection closed'));
    this.subscriber.on('ready', () => this.resyncWhenReady());
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
  }

  /**
   * After the subscriber (re)connects, messages may have been missed: consumers reread keys, which
   * needs the command connection, so wait for it when it is not up yet.
   */
  private resyncWhenReady(): void {
    if (this.commands.status === 'ready') {
      for (const handler of this.resyncHandlers) handler();
      return;
    }
    if (this.resyncPending) return;
    this.resyncPending = true;
    this.commands.once('ready', () => {
      this.resyncPending = false;
      for (const handler of this.resyncHandlers) handler();
    });
  }

  private setUp(up: boolean, detail: string): void {
    if (this.up === up || this.closed) return;
    this.up = up;
    this.options.onStatus?.(up, detail);
  }

  private key(name: string): string {
    return this.options.keyPrefix + name;
  }

  /** Runs a command; any failure (down, timeout, script error) becomes `fallback`. */
  private async attempt<T>(fallback: T, run: () => Promise<T>): Promise<T> {
    if (this.closed) return fallback;
    try {
      return await run();
    } catch {
      return fallback;
    }
  }

  get(key: string): Promise<string | undefined> {
    return this.attempt(undefined, async () => (await this.commands.get(this.key(key))) ?? undefined);
  }

  set(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.set(this.key(key), value, 'PX', ttlMs)) === 'OK');
  }

  delete(key: string): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.del(this.key(key))) > 0);
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.set(this.key(key), value, 'PX', ttlMs, 'NX')) === 'OK');
  }

  renewIfEqual(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.eval(RENEW_IF_EQUAL, 1, this.key(key), value, ttlMs)) === 1);
  }

  deleteIfEqual(key: string, value: string): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.eval(DELETE_IF_EQUAL, 1, this.key(key), value)) === 1);
  }

  increment(key: string, floor: number): Promise<number | undefined> {
    return this.attempt(undefined, async () => Number(await this.commands.eval(INCREMENT_ABOVE, 1, this.key(key), floor)));
  }

  setIfGuard(guardKey: string, guardValue: string, key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.attempt(false, async () => (await this.commands.eval(SET_IF_GUARD, 2, this.key(guardKey), this.key(key), guardValue, value, ttlMs)) === 1);
  }

  publish(channel: string, message: string): Promise<boolean> {
    return this.attempt(false, async () => {
      await this.commands.publish(this.key(channel), message);
      return true;
    });
  }

  subscribe(channel: string, handler: MessageHandler): void {
    const full = this.key(channel);
    const list = this.handlers.get(full);
    if (list) {
      list.push(handler);
      return;
    }
    this.handlers.set(full, [handler]);
    this.subscriber.subscribe(full).catch(() => {
      // autoResubscribe renews it after the next reconnection.
    });
  }

  onResync(handler: () => void): void {
    this.resyncHandlers.push(handler);
    // Otherwise the subscriber's next 'ready' runs it.
    if (this.subscriber.status !== 'ready') return;
    if (this.commands.status === 'ready') queueMicrotask(handler);
    else this.commands.once('ready', handler);
  }

  /** Whether the command connection is up right now (for /readyz detail and metrics). */
  isUp(): boolean {
    return this.up;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.commands.disconnect();
    this.subscriber.disconnect();
  }
}
