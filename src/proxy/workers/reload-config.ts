// Reading the config again for a reload (SIGHUP, POST /reload): a file that does not validate is
// refused with every `path: reason` logged, and the running config stays.
import { ConfigError } from '../../config/config-error.js';
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import type { ReloadOutcome } from '../run.js';

/** Re-reads `--config` and the command line over it, validated; throws ConfigError. */
export type ConfigSource = () => Config;

export type Loaded = { ok: true; config: Config } | { ok: false; outcome: ReloadOutcome };

export function loadForReload(source: ConfigSource, logger: Logger): Loaded {
  try {
    return { ok: true, config: source() };
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [String(err)];
    logger.error({ problems }, `config reload refused, the running config stays: ${problems.join('; ')}`);
    return { ok: false, outcome: { applied: false, changes: [], restartNeeded: [], problems } };
  }
}

/**
 * Runs one reload at a time: a SIGHUP during a POST /reload waits for it, then reads the file
 * again. A reload that throws (a defect, not a bad file) is logged and answered as not applied:
 * a SIGHUP must never take the process down.
 */
export function serialized<T extends ReloadOutcome>(reload: () => Promise<T>, logger: Logger): () => Promise<T | ReloadOutcome> {
  let last: Promise<unknown> = Promise.resolve();
  const guarded = (): Promise<T | ReloadOutcome> =>
    reload().catch((err: unknown) => {
      logger.error({ err }, 'config reload failed inside the proxy');
      return { applied: false, changes: [], restartNeeded: [], problems: [`internal error: ${String(err)}`] };
    });
  return () => {
    const next = last.then(guarded, guarded);
    last = next;
    return next;
  };
}
