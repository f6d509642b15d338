// TypeScript types derived from the schema, so the two can never drift apart.
import type { FromSchema } from 'json-schema-to-ts';
import type { configSchema } from './schema/index.js';
import type { backendSchema } from './schema/proxy.js';
import type { listenerTlsSchema, upstreamTlsSchema } from './schema/tls.js';

// Properties with a default are always present after validation (ajv fills them in).
type Opts = { keepDefaultedPropertiesOptional: false };

export type Config = FromSchema<typeof configSchema, Opts>;
export type BackendConfig = FromSchema<typeof backendSchema, Opts>;
export type ListenerTlsConfig = FromSchema<typeof listenerTlsSchema, Opts>;
export type UpstreamTlsConfig = FromSchema<typeof upstreamTlsSchema, Opts>;
