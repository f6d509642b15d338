// Built-in registry settings (`--mode registry`).
import { durationMs } from './common.js';
import { s3Schema } from './s3.js';

/** A manifest is held in memory whole while it is checked: 16 times distribution's 4 MiB cap. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export const registrySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // A directory (the filesystem driver); exclusive with `s3`.
    storage: { type: 'string', minLength: 1 },
    s3: s3Schema,
    deleteEnabled: { type: 'boolean', default: false },
    htpasswd: { type: 'string', minLength: 1 },
    // distribution caps manifests at 4 MiB; larger ones are almost always a mistake or an attack.
    maxManifestBytes: { type: 'integer', minimum: 1024, maximum: MAX_MANIFEST_BYTES, default: 4194304 },
    // How long tag -> digest, manifest and linked-blob lookups are cached in memory. Bounds how
    // long a delete made by another replica sharing the storage directory stays unseen here;
    // 0 disables the cache.
    cacheTtlMs: durationMs(2000),
    // Upload sessions older than this are removed (clients that gave up without a DELETE).
    // distribution keeps them 7 days; a day is plenty for any real push and frees a full disk
    // sooner. Checked at start-up and every hour.
    uploadPurgeAgeMs: durationMs(86400000, 60000),
    // SIGTERM/SIGINT: requests in flight get this long to finish before their connections are
    // closed (the proxy's own drainTimeoutMs is the same thing on its side). 10 s covers a
    // manifest PUT waiting on its replicas; a blob upload cut here is resumed by the client.
    drainTimeoutMs: durationMs(10000),
    timeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // A request's headers must arrive within this (HAProxy's `timeout http-request`): a
        // client that trickles header bytes is cut instead of holding a connection forever.
        headersMs: durationMs(30000, 100),
        // A connection on which nothing moves in either direction for this long is closed (a
        // stalled upload or a reader that stopped reading). Long enough for a commit that waits
        // on replicas (`ack: all`); 0 disables it.
        idleMs: durationMs(300000),
      },
    },
    // Concurrent client connections; more are closed on arrival. Keeps the registry below the
    // usual 1024 file descriptor limit with room for the files it has open.
    maxConnections: { type: 'integer', minimum: 1, maximum: 1000000, default: 768 },
    uploads: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Open (unfinished) upload sessions per repository and per client address; more get
        // 429 TOO_MANY_REQUESTS until some finish, are cancelled or are purged. A push opens one
        // session per blob and most clients push a handful of blobs at once.
        maxOpenPerRepository: { type: 'integer', minimum: 1, maximum: 1000000, default: 1000 },
        maxOpenPerClient: { type: 'integer', minimum: 1, maximum: 1000000, default: 200 },
      },
    },
    loginThrottle: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Failed sign-ins per client address: `burst` may fail at once, then one more every
        // `refillMs`; beyond that 429 with Retry-After. 10 at once then 10 a minute stops
        // guessing (bcrypt alone allows hundreds a second) and never a person mistyping.
        burst: { type: 'integer', minimum: 1, maximum: 1000000, default: 10 },
        refillMs: durationMs(6000, 1),
      },
    },
  },
} as const;
