// Replication between built-in replicas.
export const replicationSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {},
} as const;
