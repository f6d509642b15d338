// Command-line flags -> config overrides. Flags win over the config file.
import { parseArgs } from 'node:util';
import type { PlainObject } from '../config/load.js';

export const USAGE = `Usage: ha-proxy --mode MODE [options]
       ha-proxy --config FILE [options]
       ha-proxy gc --storage DIR | --config FILE [--dry-run]   (registry garbage collection: ha-proxy gc --help)
       ha-proxy ctl status|drain|ready|maint|weight|failback ...   (runtime control: ha-proxy ctl --help)

Modes:
  active-standby        all traffic to the first healthy backend; failover and failback
  active-active         balance over all healthy backends
  registry              run a built-in OCI registry replica

Options:
  --config FILE         YAML or JSON config file (flags override it)
  --mode MODE           active-standby | active-active | registry
  --listen HOST:PORT    where clients connect (default 127.0.0.1:5000)
  --backend URL         a backend registry, repeatable, in priority order
  --admin-listen H:P    /metrics, /livez, /readyz (default 127.0.0.1:9090)
  --tls-cert FILE       serve HTTPS (and HTTP/2) on --listen with this PEM certificate (tls.cert)
  --tls-key FILE        the certificate's PEM private key (tls.key)
  --health-path PATH    active health check path (default /v2/)
  --balance POLICY      active-active: roundrobin | leastconn (default roundrobin)
  --failback POLICY     active-standby: auto | manual (default auto)
  --retries N           GET/HEAD retries on another backend (default 2)
  --log-level LEVEL     fatal | error | warn | info | debug | trace | silent
  --storage DIR         registry mode: where blobs and manifests live
  --redis URL           share proxy state (backend health) through Redis (redis.url)
  --peer URL            registry mode: a replica to replicate to, repeatable
  --ack MODE            replication write concern: all | majority | one (default all)
  --replicas N          proxy modes without --backend: built-in replicas to run (default 2)
  --data DIR            proxy modes without --backend: replica storage root (default ./data)
  --workers N           proxy modes: processes serving traffic (default 0: one per CPU; embedded: one)
  --help                print this help
  --version             print the version
`;

export interface CliArgs {
  help: boolean;
  version: boolean;
  configFile?: string;
  overrides: PlainObject;
}

export class UsageError extends Error {
  readonly code = 'HA_USAGE';
}

/** An integer flag (the schema then checks its range); anything else is a usage error. */
function intFlag(name: string, value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`${name} must be a whole number, got "${value}"`);
  return Number(value);
}

export function parseCliArgs(argv: string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        config: { type: 'string', short: 'c' },
        mode: { type: 'string' },
        listen: { type: 'string' },
        backend: { type: 'string', multiple: true },
        'admin-listen': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'health-path': { type: 'string' },
        balance: { type: 'string' },
        failback: { type: 'string' },
        retries: { type: 'string' },
        'log-level': { type: 'string' },
        storage: { type: 'string' },
        redis: { type: 'string' },
        peer: { type: 'string', multiple: true },
        ack: { type: 'string' },
        replicas: { type: 'string' },
        workers: { type: 'string' },
        data: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const overrides: PlainObject = {
    mode: v.mode,
    listen: v.listen,
    adminListen: v['admin-listen'],
    tls: v['tls-cert'] === undefined && v['tls-key'] === undefined ? undefined : { cert: v['tls-cert'], key: v['tls-key'] },
    logLevel: v['log-level'],
    backends: v.backend?.map((url) => ({ url })),
    healthCheck: v['health-path'] === undefined ? undefined : { path: v['health-path'] },
    balance: v.balance,
    failback: v.failback === undefined ? undefined : { mode: v.failback },
    // Left as text when not a number, so the schema reports it as `retries: must be integer`.
    retries: v.retries === undefined ? undefined : /^\d+$/.test(v.retries) ? Number(v.retries) : v.retries,
    registry: v.storage === undefined ? undefined : { storage: v.storage },
    redis: v.redis === undefined ? undefined : { url: v.redis },
    replication: v.peer === undefined && v.ack === undefined ? undefined : { peers: v.peer?.map((url) => ({ url })), ack: v.ack },
    workers: intFlag('--workers', v.workers),
    embedded: v.replicas === undefined && v.data === undefined ? undefined : { replicas: intFlag('--replicas', v.replicas), data: v.data },
  };
  return { help: v.help ?? false, version: v.version ?? false, configFile: v.config, overrides };
}
