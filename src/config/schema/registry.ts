// Built-in registry settings (`--mode registry`).
import { durationMs } from './common.js';

/** A manifest is held in memory whole while it is checked: 16 times distribution's 4 MiB cap. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export const registrySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    storage: { type: 'string', minLength: 1 },
    deleteEnabled: { type: 'boolean', default: false },
    htpasswd: { type: 'string', minLength: 1 },
    // distribution caps manifests at 4 MiB; larger ones are almost always a mistake or an attack.
    maxManifestBytes: { type: 'integer', minimum: 1024, maximum: MAX_MANIFEST_BYTES, default: 4194304 },
    // How long tag -> digest, manifest and linked-blob lookups are cached in memory. Bounds how
    // long a delete made by another replica sharing the storage directory stays unseen here;
    // 0 disables the cache.
    cacheTtlMs: durationMs(2000),
    // Upload sessions older than this are removed (clients that gave up without a DELETE);
    // distribution's default is the same 7 days. Checked at start-up and every hour.
    uploadPurgeAgeMs: durationMs(604800000, 60000),
  },
} as const;
