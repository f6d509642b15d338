// What the primary and its workers agree on besides the health and metrics ports. A module of its
// own so a worker does not import primary.ts, and with it the Redis client (ioredis, over 20 MiB
// of RSS: load-health-store.ts) that only a primary with a `redis` section uses.
import type { Worker } from 'node:cluster';
import type { Config } from '../../config/types.js';

/** The message by which the primary relays an operator's manual failback to its workers. */
export const FAILBACK_MESSAGE = 'ha-proxy:failback';
/** A worker that cannot start (its listener cannot bind) tells the primary why, then exits 1. */
export const WORKER_START_FAILED = 'ha-proxy:start-failed';
/**
 * The message by which the primary hands a reloaded config (validated, as JSON in `config`) to
 * its workers; each answers RELOADED_MESSAGE with the same `id` once it routes on it.
 */
export const RELOAD_MESSAGE = 'ha-proxy:reload';
export const RELOADED_MESSAGE = 'ha-proxy:reloaded';
/**
 * A worker runs on its primary's validated config, sent over the cluster IPC channel: not in an
 * environment variable, which the same user reads in /proc/<pid>/environ and tools that dump the
 * environment log, and the config holds secrets (backend credentials, the admin token, the
 * routing secret, Redis passwords). It also spares the worker the YAML parser and the schema
 * compile (ajv), about 16 MiB of RSS per worker. The worker asks first (CONFIG_REQUEST), once it
 * listens for the answer: a message sent before the worker has a listener would be lost.
 */
export const CONFIG_REQUEST = 'ha-proxy:config-request';
export const CONFIG_MESSAGE = 'ha-proxy:config';

/**
 * The config the primary sends its workers. Upload tokens and sticky cookies signed by one worker
 * must verify in every other: without a configured secret, all use the one generated for this run.
 */
export function workerConfig(config: Config, runSecret: string): Config {
  const routing = config.routing as { secret?: string; secretFile?: string };
  if (routing.secret !== undefined || routing.secretFile !== undefined) return config;
  return { ...config, routing: { ...config.routing, secret: runSecret } };
}

/** In the primary: answers the worker's CONFIG_REQUEST with `config` (never put in its environment: it holds secrets). */
export function answerConfigRequests(worker: Worker, config: Config): void {
  worker.on('message', (message: { type?: unknown } | null) => {
    if (message?.type === CONFIG_REQUEST) worker.send({ type: CONFIG_MESSAGE, config }, undefined, () => {});
  });
}

/** In a worker: asks the primary for the config and waits for it (rejects if the primary is gone). */
export function receiveClusterConfig(): Promise<Config> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      const m = message as { type?: unknown; config?: unknown } | null;
      if (m?.type !== CONFIG_MESSAGE || typeof m.config !== 'object' || m.config === null) return;
      process.off('message', onMessage);
      process.off('disconnect', onGone);
      resolve(m.config as Config);
    };
    const onGone = (): void => {
      process.off('message', onMessage);
      reject(new Error('the primary process went away before sending the config'));
    };
    process.on('message', onMessage);
    process.once('disconnect', onGone);
    if (!process.send || !process.connected) return onGone();
    process.send({ type: CONFIG_REQUEST });
  });
}
