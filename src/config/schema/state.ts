// Settings of the proxy's processes and of the state they share: `workers` (cores used by one
// proxy) and `redis` (state shared between several proxies).
export const redisSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^rediss?://', reason: 'must be a redis:// or rediss:// URL' },
    keyPrefix: { type: 'string', default: 'ha-proxy:' },
    // Longest wait for one Redis command; after it the proxy goes on with its local state. Short,
    // because a request must never wait on Redis (research.md section 5).
    commandTimeoutMs: { type: 'integer', minimum: 1, default: 250 },
  },
} as const;

export const stateSchemaProperties = {
  // Processes serving traffic: 0 means one per CPU. 1 runs everything in one process.
  workers: { type: 'integer', minimum: 0, maximum: 256, default: 0 },
  redis: redisSchema,
} as const;
