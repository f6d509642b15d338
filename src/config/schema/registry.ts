// Built-in registry settings (`--mode registry`).
export const registrySchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    storage: { type: 'string', minLength: 1 },
    deleteEnabled: { type: 'boolean', default: false },
    htpasswd: { type: 'string', minLength: 1 },
    // distribution caps manifests at 4 MiB; larger ones are almost always a mistake or an attack.
    maxManifestBytes: { type: 'integer', minimum: 1024, default: 4194304 },
    // How long tag -> digest, manifest and linked-blob lookups are cached in memory. Bounds how
    // long a delete made by another replica sharing the storage directory stays unseen here;
    // 0 disables the cache.
    cacheTtlMs: { type: 'integer', minimum: 0, default: 2000 },
    // Upload sessions older than this are removed (clients that gave up without a DELETE);
    // distribution's default is the same 7 days. Checked at start-up and every hour.
    uploadPurgeAgeMs: { type: 'integer', minimum: 60000, default: 604800000 },
  },
} as const;
