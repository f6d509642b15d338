// Embedded mode: `ha-proxy --mode active-standby` (or active-active) with no backends starts
// `embedded.replicas` built-in registry replicas as supervised child processes, each with its own
// storage under `embedded.data`, replicating to each other, and runs the proxy in front of them.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlainObject } from '../config/load.js';
import { secretFileLines } from '../config/schema/routing.js';
import type { Config } from '../config/types.js';
import { parseHostPort } from '../net/listen.js';
import { createLogger } from '../observability/logger.js';
import { stopGraceMs } from '../process/stop-grace.js';
import { isClusterWorker } from '../process/worker-role.js';
import { freeLoopbackPort, tryPort } from './ports.js';
import { replicaConfigEnv, replicaConfigLine } from './replica-config-env.js';
import { planReplicas, replicaName, replicaUrl, reusablePorts, type ReplicaPorts } from './replica-plan.js';
import { GIVE_UP_AFTER } from './start-failures.js';
import { SupervisedChild } from './supervised-child.js';

const CLI = fileURLToPath(new URL('../../../bin/ha-proxy.js', import.meta.url));
const STATE_FILE = 'embedded.json';
const SECRET_FILE = 'blob-redirect.secret';
/**
 * Node flags of every replica. V8's young generation grows to 2 x 16 MiB under load and stays
 * there; capped at 1 MiB a side (on every process of the tree), the embedded tree held 199
 * instead of 223 MiB at rest and 294-301 instead of 314-316 MiB during a 512 MiB pull
 * (bench/embedded-memory.ts). `npm start` caps the proxy process the same way. A replica
 * mostly waits on disk and sockets, so the extra scavenges cost it little.
 */
const REPLICA_NODE_FLAGS = ['--max-semi-space-size=1'];
/**
 * glibc serves allocations of 128 KiB and more (a replica's 1 MiB file and body buffers) from
 * mmap and returns them at free, instead of raising its threshold and keeping them in its heap:
 * the tree's peak during a 512 MiB pull went from 303-326 to 290-301 MiB (4 pulls each). Unless
 * the operator set it.
 */
function replicaMallocEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return env.MALLOC_MMAP_THRESHOLD_ === undefined ? { MALLOC_MMAP_THRESHOLD_: '131072' } : {};
}
/**
 * `workers: 0` (the default) in embedded mode: the proxy serves traffic in this one process.
 * On a small machine the replicas already use the other cores, and every further process costs
 * 60-90 MiB of RSS (two workers and a primary that serves nothing: 369 against 223 MiB at rest).
 */
function embeddedWorkers(configured: number): number {
  return configured === 0 ? 1 : configured;
}
/** How long start-up waits for the replicas before starting the proxy anyway (its health checks take over). */
const REPLICA_START_TIMEOUT_MS = 30_000;

async function rememberedPorts(dataDir: string, count: number): Promise<ReplicaPorts[] | undefined> {
  try {
    return reusablePorts((JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as { ports?: unknown }).ports, count);
  } catch {
    return undefined;
  }
}

/** The replicas as the proxy's backends; with blob redirects, clients reach them where the proxy does. */
function backendsOf(ports: readonly ReplicaPorts[], blobRedirect: boolean): Config['backends'] {
  return ports.map((p, i) => ({ name: replicaName(i), url: replicaUrl(p), weight: 1, ...(blobRedirect ? { publicUrl: replicaUrl(p) } : {}) }));
}

/**
 * The proxy's config in front of the replicas. With blob redirects, the secret the replicas check
 * signatures with (writeBlobRedirectSecret) becomes routing.secret, unless one is configured already.
 */
async function proxyConfigOf(config: Config, dataDir: string, ports: readonly ReplicaPorts[]): Promise<Config> {
  const blobRedirect = config.routing.blobRedirect.enabled;
  const backends = backendsOf(ports, blobRedirect);
  if (!blobRedirect || config.routing.secret !== undefined) return { ...config, backends };
  const { current, previous } = secretFileLines(await readFile(join(dataDir, SECRET_FILE), 'utf8'));
  return { ...config, backends, routing: { ...config.routing, secret: current, previousSecrets: previous } };
}

/**
 * A reloaded config in embedded mode: the backends stay the supervised replicas, and without a
 * configured secret the one the replicas check blob redirects with stays too.
 */
function embeddedReload(next: Config, running: Config): Config {
  const workers = embeddedWorkers(next.workers);
  if (next.routing.secret !== undefined || running.routing.secret === undefined) return { ...next, workers, backends: running.backends };
  return { ...next, workers, backends: running.backends, routing: { ...next.routing, secret: running.routing.secret, previousSecrets: running.routing.previousSecrets } };
}

/**
 * The file the replicas read the blob redirect secrets from (current first, one a line): the
 * configured routing secrets, else a random secret made on the first run and kept, so redirect
 * URLs and upload tokens stay valid across restarts and every --workers process signs alike.
 */
async function writeBlobRedirectSecret(config: Config, dataDir: string): Promise<string> {
  const path = join(dataDir, SECRET_FILE);
  const configured = config.routing.secret === undefined ? undefined : [config.routing.secret, ...config.routing.previousSecrets];
  const kept = await readFile(path, 'utf8').then(secretFileLines, () => undefined);
  const lines = configured ?? (kept?.current ? [kept.current, ...kept.previous] : [randomBytes(32).toString('base64url')]);
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

/**
 * Replica ports: the ones remembered from the last run when they are still free, else fresh ones.
 * `reserved` holds the proxy's own ports, which are not bound yet while the replicas start: a
 * fresh ephemeral port can be one of them, and a replica on it would keep the proxy from listening.
 */
async function choosePorts(dataDir: string, count: number, reserved: readonly number[]): Promise<ReplicaPorts[]> {
  const remembered = await rememberedPorts(dataDir, count);
  if (remembered) {
    const candidates = remembered.flatMap((p) => [p.listen, p.admin]);
    const free = await Promise.all(candidates.map((port) => (reserved.includes(port) ? undefined : tryPort(port))));
    if (free.every((p) => p !== undefined)) return remembered;
  }
  const ports: ReplicaPorts[] = [];
  const taken = new Set<number>(reserved);
  const fresh = async () => {
    for (;;) {
      const port = await freeLoopbackPort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  for (let i = 0; i < count; i++) ports.push({ listen: await fresh(), admin: await fresh() });
  return ports;
}

/**
 * The status of one GET, or undefined when nothing answers. node:http, not fetch(): fetch loads
 * Node's own bundled copy of undici beside the one the proxy uses, 17 MiB of RSS kept for the
 * life of the process for a few start-up probes.
 */
function probe(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpGet(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function waitUntilAnswering(url: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const status = await probe(`${url}/v2/`);
    if (status === 200 || status === 401) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** `reloadSource`: the config read again for a reload; the backends stay the supervised replicas. */
export async function runEmbedded(config: Config, reloadSource?: () => Config): Promise<void> {
  const { runProxyMode } = await import('../proxy/workers/run-proxy-mode.js');
  if (isClusterWorker()) {
    // A proxy worker (--workers): the primary started the replicas and recorded their ports.
    const ports = await rememberedPorts(resolve(config.embedded.data), config.embedded.replicas);
    if (!ports) throw new Error(`embedded mode: no replica ports in ${join(resolve(config.embedded.data), STATE_FILE)}`);
    await runProxyMode(await proxyConfigOf(config, resolve(config.embedded.data), ports));
    return;
  }
  const logger = createLogger(config.logLevel, { component: 'supervisor' });
  const { embedded } = config;
  const dataDir = resolve(embedded.data);
  await mkdir(dataDir, { recursive: true });
  const proxyPorts = [config.listen, config.adminListen].map((hostPort) => parseHostPort(hostPort).port).filter((port) => port !== 0);
  const ports = await choosePorts(dataDir, embedded.replicas, proxyPorts);
  await writeFile(join(dataDir, STATE_FILE), `${JSON.stringify({ ports }, null, 2)}\n`);
  const { peers: _ignored, ...replication } = config.replication;
  const blobRedirect = config.routing.blobRedirect.enabled ? { secretFile: await writeBlobRedirectSecret(config, dataDir) } : undefined;
  const plans = planReplicas({ dataDir, ports, logLevel: config.logLevel, replication: replication as PlainObject, blobRedirect, drainTimeoutMs: config.registry.drainTimeoutMs });

  // Already loaded by this process (it read the user's config); a worker never gets here.
  const { validateConfigObject } = await import('../config/load.js');
  const children: SupervisedChild[] = [];
  const stopReplicas = async (): Promise<void> => {
    await Promise.all(children.map((c) => c.stop()));
  };
  const giveUp = (name: string, message: string): void => {
    // Exit 1 rather than run on without the replica: a service manager restarting ha-proxy gets
    // fresh free ports (choosePorts), and an operator sees the failure instead of a quiet loop.
    process.stderr.write(`ha-proxy: ${name}: ${message} (${GIVE_UP_AFTER} starts in a row): giving up\n`);
    void stopReplicas().finally(() => process.exit(1));
  };
  for (const plan of plans) {
    await mkdir(plan.storage, { recursive: true });
    const configFile = join(dataDir, `${plan.name}.config.json`);
    await writeFile(configFile, `${JSON.stringify(plan.config, null, 2)}\n`);
    // Validated here (a bad one stops start-up with its message instead of a restart loop).
    const replicaConfig = validateConfigObject(plan.config);
    const child = new SupervisedChild(
      {
        name: plan.name,
        command: process.execPath,
        args: [...REPLICA_NODE_FLAGS, CLI, '--config', configFile],
        pidFile: join(dataDir, `${plan.name}.pid`),
        env: { ...replicaMallocEnv(), ...replicaConfigEnv() },
        stdinLine: replicaConfigLine(replicaConfig),
        stopGraceMs: stopGraceMs(replicaConfig.registry.drainTimeoutMs),
      },
      { minDelayMs: embedded.restartMinDelayMs, maxDelayMs: embedded.restartMaxDelayMs, onGiveUp: (message) => giveUp(plan.name, message) },
      logger,
    );
    child.start();
    children.push(child);
  }
  // The proxy owns SIGTERM/SIGINT: it drains in-flight requests, which need the replicas, then
  // stops the replicas (afterStop below), each given its own drain, and exits. Any other exit
  // still sends them their SIGTERM.
  process.once('exit', () => children.forEach((c) => c.killNow()));

  const deadline = Date.now() + REPLICA_START_TIMEOUT_MS;
  const up = await Promise.all(plans.map((p) => waitUntilAnswering(p.url, deadline)));
  plans.forEach((p, i) => {
    if (!up[i]) logger.warn({ replica: p.name, url: p.url }, 'replica not answering yet; the proxy health checks will bring it in');
  });
  logger.info({ replicas: plans.map((p) => ({ name: p.name, url: p.url, storage: p.storage })) }, 'embedded replicas running');

  try {
    const proxyConfig = await proxyConfigOf(config, dataDir, ports);
    const reload = reloadSource && (() => embeddedReload(reloadSource(), proxyConfig));
    await runProxyMode({ ...proxyConfig, workers: embeddedWorkers(config.workers) }, { reloadSource: reload, afterStop: stopReplicas });
  } catch (err) {
    // No proxy (its port is taken, say): replicas nobody can reach must not run on.
    await stopReplicas();
    throw err;
  }
}
