// Builds the registry-aware router from the config at start-up and at each reload: keys derived
// once, globs compiled once, the missing-secret warning logged once.
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import type { Router } from '../route-decision.js';
import { redirectOrigin, withBlobRedirect } from './blob-redirect.js';
import { createRegistryRouter, type RoutingEvents } from './registry-router.js';
import { compileRoutes } from './route-rules.js';
import { deriveKeyring, resolveSecret } from '../../oci/signing.js';
import type { Backend } from '../backend.js';

export interface RoutingDeps {
  /** Told when no secret is configured (once per process: give it at start-up only). */
  logger?: Logger;
  events?: RoutingEvents;
  /** Counts a blob GET answered 307 to `backend` (routing.blobRedirect). */
  onBlobRedirect?: (backend: Backend) => void;
  /**
   * The secret to sign with when none is configured: a process keeps one across reloads, or a
   * reload would invalidate every upload token and sticky cookie it handed out.
   */
  generatedSecret?: Buffer;
}

/**
 * The configured secrets, current first, then `previousSecrets` (a `secretFile`'s lines are
 * there already: the config loader put them in). Undefined when no secret is configured.
 */
export function configuredSecrets(routing: Config['routing']): [string, ...string[]] | undefined {
  return routing.secret === undefined ? undefined : [routing.secret, ...routing.previousSecrets];
}

/** Wraps the mode router; `config.mode` must be a proxy mode. */
export function createRouting(config: Config, inner: Router, deps: RoutingDeps = {}): Router {
  if (config.mode === 'registry') throw new Error('routing applies to the proxy modes only');
  const configured = configuredSecrets(config.routing);
  const resolved = resolveSecret(configured?.[0]);
  const secret = resolved.generated && deps.generatedSecret ? { ...resolved, value: deps.generatedSecret } : resolved;
  const secrets: [Buffer, ...Buffer[]] = [secret.value, ...(configured ?? []).slice(1).map((s) => Buffer.from(s, 'utf8'))];
  if (secret.generated) {
    deps.logger?.warn(
      'routing.secret is not set: upload tokens and sticky cookies are signed with a random per-process secret, so uploads in progress fail after a restart and a second proxy cannot continue them; set the same routing.secret on every proxy',
    );
  }
  const router = createRegistryRouter(inner, {
    mode: config.mode,
    retries: config.retries,
    routes: compileRoutes(config.routing.routes),
    readFallback: config.routing.readFallback,
    uploadAffinity: config.routing.uploadAffinity,
    uploadKeys: deriveKeyring(secrets, 'upload-token'),
    sticky: config.routing.sticky === 'cookie' ? { cookieName: config.routing.cookieName, keys: deriveKeyring(secrets, 'sticky-cookie') } : undefined,
    events: deps.events,
  });
  const { blobRedirect } = config.routing;
  if (!blobRedirect.enabled) return router;
  return withBlobRedirect(router, {
    keys: deriveKeyring(secrets, 'blob-redirect'),
    expiresMs: blobRedirect.expiresMs,
    publicUrls: config.backends.map((b) => redirectOrigin(b.publicUrl)),
    onRedirect: deps.onBlobRedirect,
  });
}
