// The one schema that is the truth for configuration. Defaults live here and are filled in by ajv.
import { adminSchema } from './admin.js';
import { hostPort } from './common.js';
import { proxySchemaProperties } from './proxy.js';
import { registrySchema } from './registry.js';
import { embeddedSchema, replicationSchema } from './replication.js';
import { routingSchema } from './routing.js';
import { stateSchemaProperties } from './state.js';
import { listenerTlsSchema } from './tls.js';

export const MODES = ['active-standby', 'active-active', 'registry'] as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: {
    mode: { enum: MODES },
    // Loopback by default: exposing the proxy on all interfaces is an explicit decision.
    listen: { ...hostPort, default: '127.0.0.1:5000' },
    adminListen: { ...hostPort, default: '127.0.0.1:9090' },
    admin: adminSchema,
    // HTTPS on `listen` (the admin listener stays plain HTTP on loopback).
    tls: listenerTlsSchema,
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    ...proxySchemaProperties,
    registry: registrySchema,
    routing: routingSchema,
    replication: replicationSchema,
    embedded: embeddedSchema,
    ...stateSchemaProperties,
  },
} as const;
