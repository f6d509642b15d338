// Registry-aware routing settings (upload affinity, per-repository routing, read fallback, cookies).
import { readFileSync } from 'node:fs';

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
    // The secret's file (first line), to keep it out of the config; exclusive with `secret`.
    secretFile: { type: 'string', minLength: 1 },
    // GET/HEAD of a manifest or blob answered 404 is retried on the pool's other healthy backends.
    readFallback: { type: 'boolean', default: true },
    // Repository globs -> backend names; first match wins; unmatched repositories use every backend.
    routes: { type: 'array', items: routeRuleSchema, default: [] },
    // Stickiness for non-registry traffic (web UIs): HAProxy's `cookie NAME insert indirect nocache`.
    sticky: { enum: ['none', 'cookie'], default: 'none' },
    cookieName: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$", default: 'ha_proxy_backend', reason: 'must be 1-64 cookie-name characters' },
  },
} as const;

interface RoutingProblemInput {
  backends: ReadonlyArray<{ name?: string }>;
  routing: { secret?: string; secretFile?: string; routes: ReadonlyArray<{ backends: readonly string[] }> };
}

/** The first line of a secret file: the secret, without the newline editors add. */
export function readSecretFile(path: string): string {
  return readFileSync(path, 'utf8').split(/\r?\n/)[0];
}

/** Rules spanning fields, as `path: reason`: routes name configured backends; one usable secret. */
export function routingConfigProblems(config: RoutingProblemInput): string[] {
  const problems: string[] = [];
  const { secret, secretFile } = config.routing;
  if (secret !== undefined && secretFile !== undefined) {
    problems.push('routing.secretFile: set either routing.secret or routing.secretFile, not both');
  } else if (secretFile !== undefined) {
    try {
      if (readSecretFile(secretFile).length < MIN_SECRET_LENGTH) {
        problems.push(`routing.secretFile: the secret on its first line must have at least ${MIN_SECRET_LENGTH} characters`);
      }
    } catch (err) {
      problems.push(`routing.secretFile: cannot read ${secretFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  const names = new Set(config.backends.flatMap((b) => (b.name === undefined ? [] : [b.name])));
  config.routing.routes.forEach((rule, i) => {
    rule.backends.forEach((name, j) => {
      if (!names.has(name)) problems.push(`routing.routes[${i}].backends[${j}]: no backend is named "${name}" (name it in backends[].name)`);
    });
  });
  return problems;
}
