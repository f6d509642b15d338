/** An invalid configuration: every problem, each as `path: reason`. The CLI exits 2 on it. */
export class ConfigError extends Error {
  readonly code = 'HA_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
