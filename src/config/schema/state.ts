// Settings of the proxy's processes and of the state they share: `workers` (cores used by one
// proxy) and `redis` (state shared between several proxies).
import { durationMs, redisUrl } from './common.js';

export const redisSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: redisUrl,
    keyPrefix: { type: 'string', default: 'ha-proxy:' },
    // Longest wait for one Redis command; after it the proxy goes on with its local state. Short,
    // because a request must never wait on Redis.
    commandTimeoutMs: durationMs(250, 1),
    // active-standby: the election's lease. The leader renews it every leaseMs/3; a dead leader is
    // replaced after leaseMs; a choice is followed for 2 * leaseMs after it was last read.
    leaseMs: { type: 'integer', minimum: 300, maximum: 60000, default: 3000 },
  },
} as const;

export const stateSchemaProperties = {
  // Processes serving traffic: 0 means one per CPU (in embedded mode: one). 1 runs everything in one process.
  workers: { type: 'integer', minimum: 0, maximum: 256, default: 0 },
  redis: redisSchema,
} as const;
