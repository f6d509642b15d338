// Registry-aware routing settings (upload affinity, per-repository routing, read fallback, cookies).
export const routingSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {},
} as const;
