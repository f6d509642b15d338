// What the primary and its workers agree on besides the health and metrics ports. A module of its
// own so a worker does not import primary.ts, and with it the Redis client (ioredis, over 20 MiB
// of RSS: load-health-store.ts) that only a primary with a `redis` section uses.

/** The environment variable carrying the per-run signing secret from the primary to its workers. */
export const CLUSTER_SECRET_ENV = 'HA_PROXY_CLUSTER_SECRET';
/** The message by which the primary relays an operator's manual failback to its workers. */
export const FAILBACK_MESSAGE = 'ha-proxy:failback';
/** A worker that cannot start (its listener cannot bind) tells the primary why, then exits 1. */
export const WORKER_START_FAILED = 'ha-proxy:start-failed';
/** The message by which the primary relays SIGHUP (re-read the TLS certificates) to its workers. */
export const RELOAD_TLS_MESSAGE = 'ha-proxy:reload-tls';
/**
 * The primary's validated config, as JSON, for its workers: a worker then skips the YAML parser
 * and the schema compile (ajv), about 16 MiB of RSS per worker. Left unset for a config too big
 * for one environment variable (Linux caps one at 128 KiB); the worker then loads it itself.
 */
export const CLUSTER_CONFIG_ENV = 'HA_PROXY_CLUSTER_CONFIG';
export const CLUSTER_CONFIG_MAX_CHARS = 100_000;

/** The environment entry handing `config` to the workers (empty when it is too big). */
export function clusterConfigEnv(config: unknown): Record<string, string> {
  const json = JSON.stringify(config);
  return json.length <= CLUSTER_CONFIG_MAX_CHARS ? { [CLUSTER_CONFIG_ENV]: json } : {};
}
