// `routing.routes`: repository globs -> a pool of backends, first match wins. Compiled once at
// start-up; the per-request work is a few anchored regular-expression tests.
import { compileGlobs } from './repository-glob.js';

export interface RouteRuleConfig {
  repositories: string[];
  backends: string[];
}

export interface RoutePool {
  /** Index of the rule that matched, or -1 for the default pool (every backend). */
  rule: number;
  /** Backend names allowed for the request; undefined means every backend. */
  backends: ReadonlySet<string> | undefined;
}

const DEFAULT_POOL: RoutePool = { rule: -1, backends: undefined };

export type RouteTable = (repository: string | undefined) => RoutePool;

export function compileRoutes(rules: readonly RouteRuleConfig[]): RouteTable {
  const compiled = rules.map((rule, i) => ({ matches: compileGlobs(rule.repositories), pool: { rule: i, backends: new Set(rule.backends) } }));
  if (compiled.length === 0) return () => DEFAULT_POOL;
  return (repository) => {
    // Requests that name no repository (`/v2/`, `/v2/_catalog`, web pages) may go anywhere.
    if (repository === undefined) return DEFAULT_POOL;
    for (const entry of compiled) if (entry.matches(repository)) return entry.pool;
    return DEFAULT_POOL;
  };
}
