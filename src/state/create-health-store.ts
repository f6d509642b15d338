// The health store a proxy process owns: local to the process, or shared with other proxies
// through Redis when the config has a `redis` section. In active-standby the shared store also
// carries the election of the active backend (active-election.ts).
import { backendName } from '../config/backend-name.js';
import type { Config } from '../config/types.js';
import type { HealthParams } from '../health/health-state.js';
import { LocalHealthStore, type HealthStore } from '../health/health-store.js';
import { redactUrl } from '../net/credentials.js';
import type { Logger } from '../observability/logger.js';
import { ActiveElection } from './active-election.js';
import { createStateStore } from './create-state-store.js';
import { SharedHealthStore } from './shared-health-store.js';

export interface HealthStoreFactory {
  create: (backendCount: number, params: HealthParams) => HealthStore;
  /** Releases what the store holds in Redis (the election's lease) and closes the connections. */
  close: () => Promise<void>;
}

export function healthStoreFactory(config: Config, logger: Logger): HealthStoreFactory {
  if (!config.redis) return { create: (n, params) => new LocalHealthStore(n, params), close: async () => {} };
  const redis = config.redis;
  const redisUrl = redis.url.replace(/\/\/[^@/]*@/, '//***@');
  const state = createStateStore(redis, (up, detail) => {
    if (up) logger.info({ redis: redisUrl }, 'shared state: Redis connected');
    else logger.warn({ redis: redisUrl, detail }, 'shared state: Redis unreachable, going on with local state');
  });
  // Keys in Redis: the URL without credentials (every proxy strips them the same way).
  const urls = config.backends.map((b) => redactUrl(b.url));
  const elections: ActiveElection[] = [];
  const create = (_n: number, params: HealthParams): HealthStore => {
    const shared = new SharedHealthStore(urls, params, state);
    if (config.mode !== 'active-standby') return shared;
    const names = config.backends.map(backendName);
    const election = new ActiveElection({ names, leaseMs: redis.leaseMs, failback: config.failback, store: state, health: () => shared.snapshot(), logger });
    shared.onTransition(() => election.healthChanged());
    shared.election = election;
    elections.push(election);
    return shared;
  };
  const close = async (): Promise<void> => {
    await Promise.all(elections.map((e) => e.close()));
    await state.close();
  };
  return { create, close };
}
