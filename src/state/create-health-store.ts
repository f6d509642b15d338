// The health store a proxy process shares with other proxies through Redis (the config's `redis`
// section; without one the process keeps a local store and never loads this module, see
// proxy/workers/load-health-store.ts). In active-standby the shared store also carries the
// election of the active backend (active-election.ts).
import { backendName } from '../config/backend-name.js';
import type { Config } from '../config/types.js';
import type { HealthParams } from '../health/health-state.js';
import type { HealthStore } from '../health/health-store.js';
import { redactUrl } from '../net/credentials.js';
import type { Logger } from '../observability/logger.js';
import type { AdminStore } from '../health/admin-store.js';
import { ActiveElection } from './active-election.js';
import { RedisStateStore } from './redis-state-store.js';
import { SharedAdminStore } from './shared-admin-store.js';
import { SharedHealthStore } from './shared-health-store.js';

export interface HealthStoreFactory {
  create: (backendCount: number, params: HealthParams) => HealthStore;
  /** The admin states (drain, maint, weights): shared through Redis like health when configured. */
  createAdmin: (configuredWeights: readonly number[]) => AdminStore;
  /** Releases what the store holds in Redis (the election's lease) and closes the connections. */
  close: () => Promise<void>;
}

export function healthStoreFactory(config: Config, redis: NonNullable<Config['redis']>, logger: Logger): HealthStoreFactory {
  const redisUrl = redis.url.replace(/\/\/[^@/]*@/, '//***@');
  const state = new RedisStateStore({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    commandTimeoutMs: redis.commandTimeoutMs,
    onStatus: (up, detail) => {
      if (up) logger.info({ redis: redisUrl }, 'shared state: Redis connected');
      else logger.warn({ redis: redisUrl, detail }, 'shared state: Redis unreachable, going on with local state');
    },
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
  const createAdmin = (weights: readonly number[]): AdminStore => new SharedAdminStore(config.backends.map(backendName), weights, state);
  const close = async (): Promise<void> => {
    await Promise.all(elections.map((e) => e.close()));
    await state.close();
  };
  return { create, createAdmin, close };
}
