// TypeScript types derived from the schema, so the two can never drift apart.
import type { FromSchema } from 'json-schema-to-ts';
import type { S3Resolved } from './s3-settings.js';
import type { configSchema } from './schema/index.js';
import type { backendSchema } from './schema/proxy.js';
import type { listenerTlsSchema, upstreamTlsSchema } from './schema/tls.js';

// Properties with a default are always present after validation (ajv fills them in).
type Opts = { keepDefaultedPropertiesOptional: false };

/**
 * The validated config. The loader (load.ts) reads each file the config names once and puts its
 * content where the inline value would be, so the value validated is the value used and no
 * runner reads these files again: `routing.secretFile` -> `routing.secret` (first line) and
 * `routing.previousSecrets` (further lines, first), a peer's `passwordFile` -> its `password`
 * (an inline one wins), `admin.tokenFile` -> `admin.token` (loader output only: the schema
 * accepts a token in a file, never inline), `registry.s3` -> completed from the AWS environment
 * variables with `secretAccessKey` read from `secretAccessKeyFile` (s3-settings.ts).
 */
export type Config = FromSchema<typeof configSchema, Opts> & { admin: { token?: string }; registry: { s3?: S3Resolved } };
export type BackendConfig = FromSchema<typeof backendSchema, Opts>;
export type ListenerTlsConfig = FromSchema<typeof listenerTlsSchema, Opts>;
export type UpstreamTlsConfig = FromSchema<typeof upstreamTlsSchema, Opts>;
