// Registry-aware routing settings (upload affinity, per-repository routing, read fallback, cookies,
// blob redirects).
import { durationMs } from './common.js';

// Below this a secret is guessable offline from one observed token.
const MIN_SECRET_LENGTH = 16;
/** A redirect URL is a bearer credential for one blob: a day bounds how long a leaked one works. */
const MAX_REDIRECT_EXPIRY_MS = 86_400_000;
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
    // Further non-empty lines are previous secrets, still accepted (rotation).
    secretFile: { type: 'string', minLength: 1 },
    // Secrets rotated out that are still accepted, so uploads in progress and sticky cookies
    // issued before a rotation keep working; new values are signed with the current secret.
    previousSecrets: { type: 'array', items: { type: 'string', minLength: MIN_SECRET_LENGTH }, default: [] },
    // Where the chunks of an upload go. `required`: only to the replica that opened the session
    // (each replica keeps its uploads in its own storage); that replica down -> the client must
    // restart the upload. `preferred`: replicas share one storage (an S3 bucket or one
    // directory), so the opener is only the first choice and another replica continues the
    // session when it is down. `off`: no upload token; uploads route as any repository request.
    uploadAffinity: { enum: ['required', 'preferred', 'off'], default: 'required' },
    // GET/HEAD of a manifest or blob answered 404 is retried on the pool's other healthy backends.
    readFallback: { type: 'boolean', default: true },
    // Repository globs -> backend names; first match wins; unmatched repositories use every backend.
    routes: { type: 'array', items: routeRuleSchema, default: [] },
    // Stickiness for non-registry traffic (web UIs): HAProxy's `cookie NAME insert indirect nocache`.
    sticky: { enum: ['none', 'cookie'], default: 'none' },
    cookieName: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$", default: 'ha_proxy_backend', reason: 'must be 1-64 cookie-name characters' },
    // Blob GETs answered 307 to the chosen backend's publicUrl with a signed query, so blob bytes
    // bypass the proxy. On a built-in registry (`--mode registry`) the same switch makes it
    // accept such URLs without other auth. Both sides need the same routing.secret.
    blobRedirect: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        // How long a redirect URL stays valid: the client follows it at once, but clocks of the
        // proxy and replica hosts may differ by some seconds. Checked when the GET starts, so
        // a long download is never cut. At most a day (MAX_REDIRECT_EXPIRY_MS).
        expiresMs: { ...durationMs(60000, 1000), maximum: MAX_REDIRECT_EXPIRY_MS },
      },
    },
  },
} as const;

interface BlobRedirectProblemInput {
  mode: string;
  backends: ReadonlyArray<{ publicUrl?: string }>;
  routing: { secret?: string; secretFile?: string; blobRedirect: { enabled: boolean } };
}

/**
 * Blob redirects need a secret both sides share (the embedded default, a proxy mode without
 * backends, makes one up for its replicas), and a proxy needs a backend to send clients to.
 */
export function blobRedirectProblems(config: BlobRedirectProblemInput): string[] {
  if (!config.routing.blobRedirect.enabled) return [];
  const embedded = config.mode !== 'registry' && config.backends.length === 0;
  if (embedded) return [];
  const problems: string[] = [];
  if (config.routing.secret === undefined && config.routing.secretFile === undefined) {
    problems.push('routing.blobRedirect.enabled: needs routing.secret (or routing.secretFile), the same on the proxy and the registries it redirects to');
  }
  if (config.mode !== 'registry' && !config.backends.some((b) => b.publicUrl !== undefined)) {
    problems.push('routing.blobRedirect.enabled: no backend has a publicUrl to redirect clients to (backends[].publicUrl)');
  }
  return problems;
}

interface RoutingProblemInput {
  backends: ReadonlyArray<{ name?: string }>;
  routing: { secret?: string; secretFile?: string; previousSecrets: readonly string[]; routes: ReadonlyArray<{ backends: readonly string[] }> };
}

/**
 * A secret file's text: the current secret on the first line (without the newline editors add),
 * then any previous secrets still accepted, one per non-empty line.
 */
export function secretFileLines(text: string): SecretFileContents {
  const [current, ...rest] = text.split(/\r?\n/);
  return { current, previous: rest.filter((line) => line !== '') };
}

export interface SecretFileContents {
  current: string;
  previous: string[];
}

/**
 * Rules spanning fields, as `path: reason`: routes name configured backends; one usable secret.
 * `fromFile` is what routing.secretFile holds, read by the loader (undefined: unset or unreadable).
 */
export function routingConfigProblems(config: RoutingProblemInput, fromFile?: SecretFileContents): string[] {
  const problems: string[] = [];
  const { secret, secretFile, previousSecrets } = config.routing;
  if (secret !== undefined && secretFile !== undefined) {
    problems.push('routing.secretFile: set either routing.secret or routing.secretFile, not both');
  } else if (fromFile !== undefined) {
    if (fromFile.current.length < MIN_SECRET_LENGTH) {
      problems.push(`routing.secretFile: the secret on its first line must have at least ${MIN_SECRET_LENGTH} characters`);
    }
    if (fromFile.previous.some((line) => line.length < MIN_SECRET_LENGTH)) {
      problems.push(`routing.secretFile: every previous secret (the lines after the first) must have at least ${MIN_SECRET_LENGTH} characters`);
    }
  }
  if (previousSecrets.length > 0 && secret === undefined && secretFile === undefined) {
    problems.push('routing.previousSecrets: previous secrets need a current one (routing.secret or routing.secretFile)');
  }
  const names = new Set(config.backends.flatMap((b) => (b.name === undefined ? [] : [b.name])));
  config.routing.routes.forEach((rule, i) => {
    rule.backends.forEach((name, j) => {
      if (!names.has(name)) problems.push(`routing.routes[${i}].backends[${j}]: no backend is named "${name}" (name it in backends[].name)`);
    });
  });
  return problems;
}
