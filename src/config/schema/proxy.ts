// Proxy-side settings: backends, health checks, balancing, retries, timeouts.
import { durationMs, httpUrl, originUrl } from './common.js';
import { upstreamTlsSchema } from './tls.js';

/** Health checks: the shortest interval between probes of one backend. */
const MIN_CHECK_INTERVAL_MS = 10;
/** rise, fall, errorLimit: past this many consecutive results a state would practically never change. */
const MAX_CHECK_COUNT = 1000;

export const backendSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', reason: 'must be 1-64 characters of A-Z a-z 0-9 _ . -' },
    url: httpUrl,
    weight: { type: 'integer', minimum: 1, maximum: 256, default: 1 },
    // Where clients reach this backend directly (routing.blobRedirect sends blob GETs there);
    // `url` may be an address only the proxy can reach.
    publicUrl: originUrl,
    // Used for https:// URLs: forwarding and health checks alike.
    tls: upstreamTlsSchema,
  },
} as const;

export const healthCheckSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    path: { type: 'string', pattern: '^/', default: '/v2/', reason: 'must start with /' },
    method: { enum: ['GET', 'HEAD'], default: 'GET' },
    // 401 is healthy: it is a registry's auth challenge (distribution#629).
    expectStatus: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, minItems: 1, default: [200, 401] },
    // At least MIN_CHECK_INTERVAL_MS: an interval of 0 would probe in a tight loop.
    intervalMs: durationMs(2000, MIN_CHECK_INTERVAL_MS),
    fastIntervalMs: durationMs(500, MIN_CHECK_INTERVAL_MS),
    downIntervalMs: durationMs(2000, MIN_CHECK_INTERVAL_MS),
    // A probe with 0 ms to answer always fails.
    timeoutMs: durationMs(1000, 1),
    rise: { type: 'integer', minimum: 1, maximum: MAX_CHECK_COUNT, default: 2 },
    fall: { type: 'integer', minimum: 1, maximum: MAX_CHECK_COUNT, default: 3 },
    // Fraction of the interval added or removed at random so checks from many proxies spread out.
    jitter: { type: 'number', minimum: 0, maximum: 0.5, default: 0.1 },
    // Passive checks: this many consecutive connect errors or 5xx on real traffic mark a backend down.
    errorLimit: { type: 'integer', minimum: 0, maximum: MAX_CHECK_COUNT, default: 3 },
    // What a mark-down does to the requests in flight on the backend. Waiting for a response:
    // they fail over at once (MARKED_DOWN) either way. Moving bytes (a response streaming, a
    // request body still being uploaded): `finish-transfers` lets them go on, bounded by the
    // timeouts like any transfer; `shutdown-sessions` (HAProxy's on-marked-down option) cuts
    // them. Not cut by default: under overload, checks time out on a backend that is slow but
    // alive, and cutting there broke all 16 image pulls in flight at once.
    onMarkedDown: { enum: ['finish-transfers', 'shutdown-sessions'], default: 'finish-transfers' },
  },
} as const;

export const proxySchemaProperties = {
  backends: { type: 'array', items: backendSchema, default: [] },
  healthCheck: healthCheckSchema,
  failback: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      mode: { enum: ['auto', 'manual'], default: 'auto' },
      delayMs: durationMs(5000),
    },
  },
  balance: { enum: ['roundrobin', 'leastconn'], default: 'roundrobin' },
  retries: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
  timeouts: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      connectMs: durationMs(3000),
      // The complete request headers must arrive this long after the connection opened or the
      // previous request ended (HAProxy's `timeout http-request`); a client that trickles them
      // (slowloris) is cut with 408. At least 1 ms: this deadline cannot be turned off.
      headersMs: { ...durationMs(30000), minimum: 1 },
      // Time to the response headers; blob bodies themselves may stream for as long as they need.
      responseHeadersMs: durationMs(60000),
      // A client connection with no bytes moving, or a response body with no byte from the
      // backend, for this long is cut (a stalled upload to a backend: responseHeadersMs).
      idleMs: durationMs(120000),
      // Pooled backend connections idle this long are closed. Below the shortest keep-alive
      // timeout a backend commonly has (5 s, Node's http server default; the built-in registry
      // keeps idle connections 65 s), or a backend may close a pooled socket just as it is
      // reused and the request dies with "socket hang up".
      keepAliveIdleMs: durationMs(4000),
    },
  },
  // Concurrent client connections per process; past it a new connection is closed at once.
  // 0: as many as the open-files limit leaves room for (two descriptors per connection, 64 kept
  // back), so a flood of connections cannot starve health checks and backends of descriptors.
  maxConnections: { type: 'integer', minimum: 0, maximum: 1000000, default: 0 },
  drainTimeoutMs: durationMs(30000),
} as const;
