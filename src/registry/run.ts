// `--mode registry`: the built-in OCI registry replica. Wires storage, hooks (replication when
// present), auth, the API listener, the admin server (/livez, /readyz, /metrics) and shutdown.
import type { Server } from 'node:http';
import { onReloadSignal, onShutdownSignals } from '../process/signals.js';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/types.js';
import { reloadCertificatesLogged, type ClientListener, type ClientServer } from '../net/client-server.js';
import { listenOn } from '../net/listen.js';
import { deriveKeyring, type Keyring } from '../oci/signing.js';
import { startAdminServer } from '../observability/admin-server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { createApiServer } from './api-server.js';
import { createRegistryApp } from './api/app.js';
import { withDefaults } from './api/hooks.js';
import { HtpasswdAuth } from './auth/htpasswd.js';
import type { ThrottleLimits } from './auth/login-throttle.js';
import { createReplicationHooks } from './replication/index.js';
import { ImageStore } from './storage/image-store.js';
import { describeStorage, openRegistryStorage } from './registry-storage.js';
import { requireUsableStorage } from './storage-check.js';

/** How often abandoned upload sessions are looked for. */
const UPLOAD_PURGE_INTERVAL_MS = 3600_000;

/** A broken htpasswd file is a configuration error (exit 2), not a crash. */
function loadAuth(path: string | undefined, throttle: ThrottleLimits): HtpasswdAuth | undefined {
  if (path === undefined) return undefined;
  try {
    return HtpasswdAuth.fromFile(path, throttle);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([`registry.htpasswd: cannot use ${path} (${reason})`]);
  }
}

/** The keys of routing.secret and its previous secrets, when signed blob URLs are accepted here. */
function signedBlobUrlKeys(routing: Config['routing']): Keyring | undefined {
  // The loader refuses blobRedirect.enabled without a secret in registry mode.
  if (!routing.blobRedirect.enabled || routing.secret === undefined) return undefined;
  const secrets = [routing.secret, ...routing.previousSecrets].map((s) => Buffer.from(s, 'utf8'));
  return deriveKeyring(secrets as [Buffer, ...Buffer[]], 'blob-redirect');
}

export interface RunningRegistry {
  /** HTTPS (HTTP/1.1) with `tls:`, else plain HTTP. */
  listener: ClientListener;
  server: ClientServer;
  admin: Server;
  store: ImageStore;
  logger: Logger;
  port: number;
  close: () => Promise<void>;
}

export async function startRegistry(config: Config): Promise<RunningRegistry> {
  const logger = createLogger(config.logLevel, { mode: 'registry' });
  const storage = openRegistryStorage(config.registry);
  const where = describeStorage(storage);
  const store = new ImageStore(storage.driver, { cacheTtlMs: config.registry.cacheTtlMs });
  await requireUsableStorage(storage, store);
  // Storage that turns unwritable later does not stop the process: /readyz reports it.
  await store.removeStaleTemporaries().catch((err: unknown) => logger.warn({ err, storage: where }, 'cannot clean temporary files'));
  const metrics = createMetricsRegistry();
  const auth = loadAuth(config.registry.htpasswd, config.registry.loginThrottle);
  // Without peers the hooks stay the no-ops (replication/index.ts).
  const hooks = withDefaults(await createReplicationHooks({ config, store, logger, metrics }));
  const app = createRegistryApp({
    store,
    logger,
    metrics,
    hooks,
    auth,
    deleteEnabled: config.registry.deleteEnabled,
    maxManifestBytes: config.registry.maxManifestBytes,
    sessionLimits: { ...config.registry.uploads, maxAgeMs: config.registry.uploadPurgeAgeMs },
    blobRedirectMs: storage.kind === 's3' ? storage.redirectMs : undefined,
    signedBlobUrlKeys: signedBlobUrlKeys(config.routing),
  });
  const listener = createApiServer(app, { ...config.registry.timeouts, maxConnections: config.registry.maxConnections }, config.tls);
  const server = listener.server;
  let admin: Server;
  let port: number;
  try {
    ({ port } = await listenOn(server, config.listen, 'listen'));
    admin = await startAdminServer({ listen: config.adminListen, registry: metrics, notReadyReason: () => store.checkWritable() });
  } catch (err) {
    // Half a registry (serving /v2/ without its admin listener, or replicating without serving)
    // is worse than none: undo what started, and start-up fails.
    server.close();
    await hooks.close();
    throw err;
  }
  logger.info({ listen: config.listen, port, tls: listener.tls, storage: where, auth: auth !== undefined, deleteEnabled: config.registry.deleteEnabled, signedBlobUrls: config.routing.blobRedirect.enabled }, 'registry listening');
  const purge = () =>
    store.purgeStaleUploads(config.registry.uploadPurgeAgeMs).then(
      (removed) => removed > 0 && logger.info({ removed }, 'removed abandoned upload sessions'),
      (err: unknown) => logger.warn({ err }, 'purging abandoned uploads failed'),
    );
  void purge();
  const purgeTimer = setInterval(purge, UPLOAD_PURGE_INTERVAL_MS);
  purgeTimer.unref();
  const close = async () => {
    clearInterval(purgeTimer);
    // In-flight requests get registry.drainTimeoutMs, then their connections are closed: the
    // admin listener's too, or a scraper stalled mid-request would hold the exit until Node's
    // 60 s header timeout (and a supervisor's SIGKILL before that).
    const timer = setTimeout(() => {
      server.closeAllConnections();
      admin.closeAllConnections();
    }, config.registry.drainTimeoutMs);
    timer.unref();
    server.closeIdleConnections();
    await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => admin.close(r))]);
    clearTimeout(timer);
    await hooks.close();
  };
  return { listener, server, admin, store, logger, port, close };
}

export async function runRegistry(config: Config): Promise<void> {
  const running = await startRegistry(config);
  onShutdownSignals(running.close, (message) => running.logger.info(message));
  onReloadSignal(() => reloadCertificatesLogged(running.listener, running.logger));
}
