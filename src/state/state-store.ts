// State shared between proxy processes: the small contract every consumer codes against. The
// in-memory store serves one process (the default); the Redis store serves several proxies.
//
// Rules every implementation keeps (Redis coordinates proxies; it must never be something a
// request depends on):
// - Nothing here ever throws or waits long: a failed or slow backend resolves to "no answer"
//   (undefined / false), and the caller falls back to its local state. The request path never
//   waits on Redis.
// - Keys with TTLs are the truth; pub/sub only makes changes arrive fast. Messages can be lost,
//   so consumers reconcile from keys in `onResync` (after every (re)connection).

export type MessageHandler = (message: string) => void;

export interface StateStore {
  /** The value, or undefined when absent, expired, or the store did not answer in time. */
  get(key: string): Promise<string | undefined>;
  /** Sets with a TTL; false when the store did not take it. */
  set(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** Sets only when the key does not exist (`SET NX PX`, a lease); true when this call created it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Renews the TTL only while the key still holds `value` (compare-and-PEXPIRE). */
  renewIfEqual(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes only while the key still holds `value` (compare-and-DEL: release a lease). */
  deleteIfEqual(key: string, value: string): Promise<boolean>;
  /**
   * Increments a counter and returns it, never at or below `floor` (a store that lost its data
   * must not hand out a counter value already used); undefined when the store did not answer.
   */
  increment(key: string, floor: number): Promise<number | undefined>;
  /** Sets `key` only while `guardKey` holds `guardValue`: a write fenced by a lease. */
  setIfGuard(guardKey: string, guardValue: string, key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Fire and forget: false when the message certainly did not go out. */
  publish(channel: string, message: string): Promise<boolean>;
  /** Handlers see every message on the channel, this process's own included. */
  subscribe(channel: string, handler: MessageHandler): void;
  /** Called after each (re)connection, when messages may have been missed: reread the keys. */
  onResync(handler: () => void): void;
  close(): Promise<void>;
}
