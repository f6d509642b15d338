// The one place that chooses the StateStore: Redis when the config has a `redis` section,
// memory otherwise. A disabled feature is a no-op implementation, not `if`s everywhere.
import type { Config } from '../config/types.js';
import { MemoryStateStore } from './memory-state-store.js';
import { RedisStateStore } from './redis-state-store.js';
import type { StateStore } from './state-store.js';

export function createStateStore(redis: Config['redis'], onStatus?: (up: boolean, detail: string) => void): StateStore {
  if (!redis) return new MemoryStateStore();
  return new RedisStateStore({ url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: redis.commandTimeoutMs, onStatus });
}
