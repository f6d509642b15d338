// Embedded mode, pure part: the configs of N built-in replicas that replicate to each other, and
// the URL the proxy reaches each one at. Ports are chosen by the caller (free loopback ports).
import { join } from 'node:path';
import type { PlainObject } from '../config/load.js';

export interface ReplicaPorts {
  listen: number;
  admin: number;
}

export interface ReplicaPlan {
  name: string;
  url: string;
  storage: string;
  /** The replica's config file contents (validated by the child like any config). */
  config: PlainObject;
}

export interface PlanInput {
  dataDir: string;
  ports: readonly ReplicaPorts[];
  logLevel: string;
  /** Replication settings from the embedding config (ack, pollIntervalMs, ...); peers are filled in. */
  replication: PlainObject;
  /** routing.blobRedirect is on: the replicas accept URLs signed with the secrets in this file. */
  blobRedirect?: { secretFile: string };
  /** `registry.drainTimeoutMs` of the embedding config: how long a stopped replica lets requests finish. */
  drainTimeoutMs: number;
}

export function replicaName(index: number): string {
  return `replica-${index + 1}`;
}

/** Where the proxy and the other replicas reach a replica. */
export function replicaUrl(ports: ReplicaPorts): string {
  return `http://127.0.0.1:${ports.listen}`;
}

export function planReplicas(input: PlanInput): ReplicaPlan[] {
  const urls = input.ports.map(replicaUrl);
  return input.ports.map((ports, i) => {
    const storage = join(input.dataDir, replicaName(i));
    return {
      name: replicaName(i),
      url: urls[i],
      storage,
      config: {
        mode: 'registry',
        listen: `127.0.0.1:${ports.listen}`,
        adminListen: `127.0.0.1:${ports.admin}`,
        logLevel: input.logLevel,
        // The proxy in front forwards deletes only when a client sends them; the embedded
        // registry is the user's own, so deletes are allowed (and replicated as tombstones).
        registry: { storage, deleteEnabled: true, drainTimeoutMs: input.drainTimeoutMs },
        replication: { ...input.replication, peers: urls.filter((_, j) => j !== i).map((url) => ({ url })) },
        ...(input.blobRedirect ? { routing: { secretFile: input.blobRedirect.secretFile, blobRedirect: { enabled: true } } } : {}),
      },
    };
  });
}

/** Ports remembered from the last run are reused when free, so peer URLs (and queued work) stay valid. */
export function reusablePorts(previous: unknown, count: number): ReplicaPorts[] | undefined {
  if (!Array.isArray(previous) || previous.length !== count) return undefined;
  const ok = previous.every(
    (p: unknown) => typeof p === 'object' && p !== null && Number.isInteger((p as ReplicaPorts).listen) && Number.isInteger((p as ReplicaPorts).admin),
  );
  return ok ? (previous as ReplicaPorts[]) : undefined;
}
