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
  },
} as const;
