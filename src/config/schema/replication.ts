// Replication between built-in replicas (`--mode registry`), and the embedded default
// (`--mode active-standby|active-active` with no backends: supervised replicas behind the proxy).
import { durationMs, httpUrl } from './common.js';
import { upstreamTlsSchema } from './tls.js';

export const peerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: httpUrl,
    // Basic auth towards the peer (its htpasswd); password may also come from a file so it stays out of configs.
    username: { type: 'string', minLength: 1 },
    password: { type: 'string' },
    passwordFile: { type: 'string', minLength: 1 },
    // Used for https:// peer URLs.
    tls: upstreamTlsSchema,
  },
} as const;

export const contentFilterSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repository'],
  properties: {
    // Glob over repository names: `*` stays inside one path component, `**` crosses slashes.
    repository: { type: 'string', minLength: 1 },
    // Only tags matching this regular expression replicate (digests referenced by them always do).
    tags: { type: 'string', minLength: 1 },
  },
} as const;

export const replicationSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    peers: { type: 'array', items: peerSchema, default: [] },
    // Write concern for a manifest PUT: all healthy peers, a majority of all replicas, or only this one.
    ack: { enum: ['all', 'majority', 'one'], default: 'all' },
    // A peer silent for this long during a synchronous copy is dropped from the ack set and
    // repaired later; progress (bytes moving) keeps it in, so big layers are not cut off.
    ackTimeoutMs: durationMs(5000),
    // Every other call to a peer (background copies, anti-entropy, probes, on-demand fetches)
    // fails after this long without bytes moving, and the peer is marked down. Longer than the
    // ack's: no client waits on these except an on-demand read, and a loaded peer that answers
    // slowly should not be marked down and probed for it.
    peerTimeoutMs: durationMs(10000, 1),
    // Anti-entropy: compare catalog, tags and digests with every peer this often (0 = never).
    pollIntervalMs: durationMs(30000),
    // Between them a round checks only what changed since the last one; this often (and on
    // start, and when a peer's storage was replaced) it compares every tag again (0 = only then).
    fullCompareIntervalMs: durationMs(3600000),
    // Fetch a missing manifest or blob from a peer when a client asks for it.
    onDemand: { type: 'boolean', default: true },
    // Empty: everything replicates. Otherwise a repository must match one filter.
    content: { type: 'array', items: contentFilterSchema, default: [] },
    retry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        initialDelayMs: durationMs(500),
        maxDelayMs: durationMs(30000),
      },
    },
    // Tasks copied in parallel per peer by the background queue.
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    // Tombstones (replicated deletes) are kept this long so a replica that was down learns of them.
    tombstoneRetentionMs: durationMs(7 * 24 * 3600 * 1000),
  },
} as const;

/** Embedded mode: the proxy supervises its own built-in replicas (`--replicas`, `--data`). */
export const embeddedSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // Two replicas survive the loss of one; odd counts (3) are needed for ack: majority to survive one.
    replicas: { type: 'integer', minimum: 1, maximum: 16, default: 2 },
    data: { type: 'string', minLength: 1, default: './data' },
    // Restart backoff for a crashed replica: doubles from min to max, reset after a stable minute.
    restartMinDelayMs: durationMs(200),
    restartMaxDelayMs: durationMs(10000),
  },
} as const;
