// The validated config of an embedded replica, handed to it by its supervisor in the environment
// (as a proxy's primary hands its config to its workers): the replica then never imports the
// config loader, whose schema compile (ajv) and file checks keep about 8.5 MiB of RSS in each
// replica for the life of the process (measured: registry modules alone 57 MiB, with the loader
// 66 MiB). The replica's config file is still written, for operators and for a config too big for
// one environment variable (Linux caps one at 128 KiB), which the replica then reads itself.

export const REPLICA_CONFIG_ENV = 'HA_PROXY_REPLICA_CONFIG';
const MAX_CHARS = 100_000;

/** The environment entry carrying `config` to a replica (empty when it is too big). */
export function replicaConfigEnv(config: unknown): Record<string, string> {
  const json = JSON.stringify(config);
  return json.length <= MAX_CHARS ? { [REPLICA_CONFIG_ENV]: json } : {};
}
