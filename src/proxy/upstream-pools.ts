// The forwarder's keep-alive connections: one undici Pool per backend, owned here rather than by
// the backend descriptions, so a reload can keep the pools of backends that did not change
// (their warm connections) and retire the others without cutting a request.
//
// Each traffic plane (one backend list, data-plane.ts) holds a lease on the pools of its
// backends. A pool whose last lease is released closes gracefully: requests still on it finish,
// then its connections close. A plane releases its lease once it is replaced and its last
// request has ended, so a request that started before a reload keeps its pool to the end.
import { buildConnector, Pool } from 'undici';
import type { UpstreamTls } from '../net/upstream-tls.js';
import type { Backend, ConnectionOptions } from './backend.js';
import { InFlightList, type InFlightNode } from './in-flight-list.js';

/**
 * `healthCheck.onMarkedDown`: what a mark-down does to an attempt whose bytes are moving (a
 * response streaming, a request body being uploaded). One waiting for its response always ends.
 */
export type OnMarkedDown = 'finish-transfers' | 'shutdown-sessions';

/** An attempt in flight that a mark-down may end (forwarder.ts). */
export interface MarkDownTarget extends InFlightNode {
  markedDown(policy: OnMarkedDown): void;
}

export interface Upstream {
  readonly pool: Pool;
  /** Attempts forwarded through this pool and not yet ended, so a mark-down can end them. */
  readonly attempts: InFlightList<MarkDownTarget>;
}

interface Entry extends Upstream {
  readonly name: string;
  readonly key: string;
  leases: number;
}

/** What makes two pools interchangeable: the origin, the TLS options and the timeouts. */
function poolKey(backend: Backend, options: ConnectionOptions): string {
  return JSON.stringify([backend.origin, backend.tls ?? null, options]);
}

/** undici's connector with our TLS options, the SNI name fixed to the backend's own (none for an IP). */
function tlsConnector(tls: UpstreamTls, timeout: number): buildConnector.connector {
  const { servername, ...options } = tls;
  const connect = buildConnector({ ...options, timeout });
  return (opts, callback) => connect({ ...opts, servername }, callback);
}

function createPool(backend: Backend, options: ConnectionOptions): Pool {
  const tls = backend.tls;
  return new Pool(backend.origin, {
    // No cap on connections (as Node's agent had none): a request never queues behind
    // another one's slow body. One request at a time per connection: no pipelining.
    connections: null,
    pipelining: 1,
    connect: tls === undefined ? { timeout: options.connectMs } : tlsConnector(tls, options.connectMs),
    headersTimeout: options.responseHeadersMs,
    bodyTimeout: options.idleMs,
    keepAliveTimeout: options.keepAliveIdleMs,
    keepAliveMaxTimeout: options.keepAliveIdleMs,
  });
}

/** A plane's pools, by backend name. */
export type PoolLease = ReadonlyMap<string, Upstream>;

export class UpstreamPools {
  /** The newest pool for each backend name. */
  private readonly byName = new Map<string, Entry>();
  /** Every pool not closed yet, retired ones still finishing their requests included. */
  private readonly live = new Set<Entry>();
  private readonly leased = new WeakMap<PoolLease, Entry[]>();

  /** Pools for `backends`: the existing one where nothing that shapes it changed, else a new one. */
  acquire(backends: readonly Backend[], options: ConnectionOptions): PoolLease {
    const lease = new Map<string, Upstream>();
    const entries: Entry[] = [];
    for (const backend of backends) {
      const key = poolKey(backend, options);
      let entry = this.byName.get(backend.name);
      if (entry?.key !== key) {
        entry = { name: backend.name, key, pool: createPool(backend, options), attempts: new InFlightList(), leases: 0 };
        this.byName.set(backend.name, entry);
        this.live.add(entry);
      }
      entry.leases++;
      entries.push(entry);
      lease.set(backend.name, entry);
    }
    this.leased.set(lease, entries);
    return lease;
  }

  /** Gives a lease back; pools nobody holds any more close once their requests have finished. */
  release(lease: PoolLease): void {
    for (const entry of this.leased.get(lease) ?? []) {
      if (--entry.leases > 0) continue;
      if (this.byName.get(entry.name) === entry) this.byName.delete(entry.name);
      this.live.delete(entry);
      void entry.pool.close();
    }
    this.leased.delete(lease);
  }

  /** Tells every attempt in flight to the backend called `name` that it was marked DOWN. */
  markDown(name: string, policy: OnMarkedDown): void {
    for (const entry of this.live) {
      if (entry.name === name) for (const attempt of entry.attempts.toArray()) attempt.markedDown(policy);
    }
  }

  /** Shutdown: every pool closes at once, requests still on it fail. */
  destroy(): void {
    for (const entry of this.live) void entry.pool.destroy();
    this.live.clear();
    this.byName.clear();
  }
}
