// Registry-aware routing settings (upload affinity, per-repository routing, read fallback, cookies).

// Below this a secret is guessable offline from one observed token.
const MIN_SECRET_LENGTH = 16;
// The name grammar's characters plus the glob wildcards (`*`, `**`, `?`).
const GLOB_PATTERN = '^[a-z0-9._/*?-]+$';

export const routeRuleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repositories', 'backends'],
  properties: {
    repositories: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: GLOB_PATTERN, reason: 'must be a repository glob of a-z 0-9 . _ - / * ? (e.g. team-a/**)' },
    },
    backends: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
  },
} as const;

export const routingSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    // Signs upload tokens and sticky cookies. Proxies that serve the same clients must share it;
    // unset, each process makes up a random one (and warns).
    secret: { type: 'string', minLength: MIN_SECRET_LENGTH },
    // GET/HEAD of a manifest or blob answered 404 is retried on the pool's other healthy backends.
    readFallback: { type: 'boolean', default: true },
    // Repository globs -> backend names; first match wins; unmatched repositories use every backend.
    routes: { type: 'array', items: routeRuleSchema, default: [] },
    // Stickiness for non-registry traffic (web UIs): HAProxy's `cookie NAME insert indirect nocache`.
    sticky: { enum: ['none', 'cookie'], default: 'none' },
    cookieName: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$", default: 'ha_proxy_backend', reason: 'must be 1-64 cookie-name characters' },
  },
} as const;
