// What a reload changes: the running config and a newly validated one in, the config to apply,
// what changed and which settings need a restart out. Pure.
//
// Reloaded in place: backends (added, removed, changed), weights, health checks, routing (routes,
// secrets, stickiness, read fallback), balance, retries, failback, upstream timeouts, the
// listener's idle timeout, TLS certificates, the log level, drainTimeoutMs. Everything else is
// bound to sockets or processes made at start-up (listen addresses, workers, Redis, the admin
// token...): a change to it is named in the answer and the running value stays until a restart.
import { backendName } from '../config/backend-name.js';
import type { Config } from '../config/types.js';

export interface ReloadPlan {
  /** The new config with every restart-only setting kept at its running value. */
  readonly config: Config;
  /** What the reload changes, one line each (e.g. `backends: added b2`). */
  readonly changes: readonly string[];
  /** Changed settings that keep their running value until a restart. */
  readonly restartNeeded: readonly string[];
}

/** Top-level settings a running proxy applies in place. */
const RELOADABLE = new Set(['backends', 'healthCheck', 'routing', 'balance', 'retries', 'failback', 'timeouts', 'tls', 'logLevel', 'drainTimeoutMs']);
/** Within `timeouts`: the header deadline is armed on the listener at start-up. */
const RESTART_TIMEOUTS = ['headersMs'] as const;

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** `added b`, `removed a`, `changed c` lines for the backend lists, by name. */
export function backendChanges(running: Config['backends'], next: Config['backends']): string[] {
  const before = new Map(running.map((b) => [backendName(b), b]));
  const after = new Map(next.map((b) => [backendName(b), b]));
  const lines: string[] = [];
  for (const [name, b] of after) {
    const old = before.get(name);
    if (!old) lines.push(`backends: added ${name}`);
    else if (!same(old, b)) lines.push(`backends: changed ${name}`);
  }
  for (const name of before.keys()) if (!after.has(name)) lines.push(`backends: removed ${name}`);
  const order = (list: Config['backends']): string => list.map(backendName).join('\n');
  if (lines.length === 0 && order(running) !== order(next)) lines.push('backends: order changed');
  return lines;
}

export function planReload(running: Config, next: Config): ReloadPlan {
  const config = structuredClone(next) as Config & Record<string, unknown>;
  const changes: string[] = [];
  const restartNeeded: string[] = [];
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
  const was = running as Config & Record<string, unknown>;
  for (const key of keys) {
    if (same(was[key], config[key])) continue;
    // TLS switched on or off changes the kind of listener: only its certificates reload.
    const restart = !RELOADABLE.has(key) || (key === 'tls' && (running.tls === undefined) !== (next.tls === undefined));
    if (restart) {
      restartNeeded.push(key);
      if (was[key] === undefined) delete config[key];
      else config[key] = structuredClone(was[key]);
    } else if (key === 'backends') changes.push(...backendChanges(running.backends, next.backends));
    else if (key === 'logLevel') changes.push(`logLevel: ${running.logLevel} -> ${next.logLevel}`);
    else changes.push(key);
  }
  for (const key of RESTART_TIMEOUTS) {
    if (running.timeouts[key] === next.timeouts[key]) continue;
    restartNeeded.push(`timeouts.${key}`);
    config.timeouts[key] = running.timeouts[key];
    if (same(running.timeouts, config.timeouts)) changes.splice(changes.indexOf('timeouts'), 1);
  }
  return { config, changes, restartNeeded };
}
