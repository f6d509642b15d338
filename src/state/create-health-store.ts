// The health store a proxy process owns: local to the process, or shared with other proxies
// through Redis when the config has a `redis` section.
import type { Config } from '../config/types.js';
import type { HealthParams } from '../health/health-state.js';
import { LocalHealthStore, type HealthStore } from '../health/health-store.js';
import { redactUrl } from '../net/credentials.js';
import type { Logger } from '../observability/logger.js';
import { createStateStore } from './create-state-store.js';
import { SharedHealthStore } from './shared-health-store.js';
import type { StateStore } from './state-store.js';

export interface HealthStoreFactory {
  create: (backendCount: number, params: HealthParams) => HealthStore;
  /** The Redis (or memory) store behind it, closed with the proxy. */
  state: StateStore | undefined;
}

export function healthStoreFactory(config: Config, logger: Logger): HealthStoreFactory {
  if (!config.redis) return { create: (n, params) => new LocalHealthStore(n, params), state: undefined };
  const redisUrl = config.redis.url.replace(/\/\/[^@/]*@/, '//***@');
  const state = createStateStore(config.redis, (up, detail) => {
    if (up) logger.info({ redis: redisUrl }, 'shared state: Redis connected');
    else logger.warn({ redis: redisUrl, detail }, 'shared state: Redis unreachable, going on with local state');
  });
  // Keys in Redis: the URL without credentials (every proxy strips them the same way).
  const urls = config.backends.map((b) => redactUrl(b.url));
  return { create: (_n, params) => new SharedHealthStore(urls, params, state), state };
}
