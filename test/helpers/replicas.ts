// Built-in registry replicas (`--mode registry`) with replication between them, for integration
// tests: each on its own loopback port and storage directory, configured through a JSON file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startHaProxy, waitForHttp, type Managed } from './processes.js';

export interface ReplicaOptions {
  port?: number;
  adminPort?: number;
  storage?: string;
  peers?: string[];
  /** Merged into the `replication` section (ack, pollIntervalMs, ...). */
  replication?: Record<string, unknown>;
  deleteEnabled?: boolean;
}

export interface Replica extends Managed {
  url: string;
  port: number;
  adminUrl: string;
  storage: string;
  options: Required<Pick<ReplicaOptions, 'port' | 'adminPort' | 'storage'>> & ReplicaOptions;
}

/** Starts a replica and waits until it answers `GET /v2/`. */
export async function startReplica(options: ReplicaOptions = {}): Promise<Replica> {
  const port = options.port ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
  const storage = options.storage ?? mkdtempSync(join(tmpdir(), 'replica-'));
  const config = {
    mode: 'registry',
    listen: `127.0.0.1:${port}`,
    adminListen: `127.0.0.1:${adminPort}`,
    logLevel: 'warn',
    registry: { storage, deleteEnabled: options.deleteEnabled ?? true },
    // Retries capped at 250 ms: a peer that was killed and restarted is probed back within that,
    // and the tests that restart replicas wait for exactly that, often once per round.
    replication: { ackTimeoutMs: 3000, retry: { initialDelayMs: 100, maxDelayMs: 250 }, ...options.replication, peers: (options.peers ?? []).map((url) => ({ url })) },
  };
  const file = join(mkdtempSync(join(tmpdir(), 'replica-config-')), 'replica.json');
  writeFileSync(file, JSON.stringify(config));
  const proc = startHaProxy(['--config', file]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 30_000 });
  return { ...proc, url, port, adminUrl: `http://127.0.0.1:${adminPort}`, storage, options: { ...options, port, adminPort, storage } };
}

/** Starts the same replica again (same port, storage and peers) after it was stopped or killed. */
export function restartReplica(replica: Replica): Promise<Replica> {
  return startReplica(replica.options);
}

/** Starts `count` replicas that all replicate to each other. */
export async function startReplicaSet(count: number, options: Omit<ReplicaOptions, 'port' | 'peers'> = {}): Promise<Replica[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  return Promise.all(ports.map((port, i) => startReplica({ ...options, port, storage: undefined, peers: urls.filter((_, j) => j !== i) })));
}

/** The repository -> tag -> digest view of a registry through its API (for convergence checks). */
export async function registryState(url: string): Promise<Record<string, Record<string, string>>> {
  const catalog = (await (await fetch(`${url}/v2/_catalog?n=10000`)).json()) as { repositories: string[] };
  const state: Record<string, Record<string, string>> = {};
  for (const repo of catalog.repositories) {
    const tags = ((await (await fetch(`${url}/v2/${repo}/tags/list?n=10000`)).json()) as { tags?: string[] | null }).tags ?? [];
    const entry: Record<string, string> = {};
    for (const tag of tags) {
      const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
      });
      entry[tag] = res.headers.get('docker-content-digest') ?? `status ${res.status}`;
    }
    if (tags.length > 0) state[repo] = entry;
  }
  return state;
}

/** Polls `check` until it returns true, or throws with `describe()` after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, describe: () => Promise<string> | string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    // Short: many conditions hold within a few hundred ms, and each poll is a few local requests.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met in ${timeoutMs} ms: ${await describe()}`);
}
