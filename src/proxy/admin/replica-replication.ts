// Each built-in replica's replication queue depth and lag towards its peers, for /status and the
// status page. Read from the replica's GET /v2/_replication/state (with the replication header,
// which that endpoint requires and which the proxy strips from client requests) on a timer by the
// process that serves /status, never per status request: one small GET every REPLICATION_POLL_MS
// per backend whose last health check answered as a built-in registry (any other registry never
// sees the request). One without peers (404), or that does not answer, has no figures: the page
// shows none rather than stale ones.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CheckTarget } from '../../health/active-checker.js';
import { REPLICATION_HEADER, REPLICATION_STATE_PATH } from '../../oci/replication-headers.js';
import { MAX_REPLICATION_STATE_BYTES, parseReplicationState, type PeerReplicationStatus } from '../../oci/replication-state.js';

/** As often as an operator can read a change on the page; lag is in seconds anyway. */
export const REPLICATION_POLL_MS = 2000;

/** What the replica told at `at`: one entry per peer it replicates to. */
export interface ReplicaReplication {
  at: string;
  peers: PeerReplicationStatus[];
}

/** The value REPLICATION_HEADER carries on the proxy's own requests (the replica logs it as the origin). */
const ORIGIN = 'ha-proxy-status';

/** One GET of the replica's replication state; undefined for anything but a well-formed 200 in time. */
export function fetchReplication(target: CheckTarget, timeoutMs: number): Promise<ReplicaReplication | undefined> {
  return new Promise((resolve) => {
    const url = new URL(target.url.replace(/\/$/, '') + REPLICATION_STATE_PATH);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      ...target.tls,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'ha-proxy-status', connection: 'close', [REPLICATION_HEADER]: ORIGIN, ...(target.authorization ? { authorization: target.authorization } : {}) },
    });
    let settled = false;
    const done = (value: ReplicaReplication | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    req.on('error', () => done(undefined));
    req.on('response', (res) => {
      if (res.statusCode !== 200) return done(undefined);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLICATION_STATE_BYTES) return done(undefined);
        chunks.push(chunk);
      });
      res.on('end', () => {
        const state = parseReplicationState(Buffer.concat(chunks).toString('utf8'));
        done(state && { at: new Date().toISOString(), peers: state.peers });
      });
      res.on('error', () => done(undefined));
    });
    req.end();
  });
}

/** A backend the poller reads: its check target, known by name (a reload may change the list). */
export interface PolledBackend extends CheckTarget {
  readonly name: string;
}

export class ReplicationPoller {
  private last = new Map<string, ReplicaReplication | undefined>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    /** The current backend list. */
    private readonly targets: () => readonly PolledBackend[],
    private readonly timeoutMs: number,
    /** Whether the backend of this name is a built-in registry (as its health check says). */
    private readonly isBuiltIn: (name: string) => boolean,
    private readonly intervalMs = REPLICATION_POLL_MS,
  ) {}

  /** The latest figures for each backend of the current list, by index (undefined: none, see above). */
  snapshot(): readonly (ReplicaReplication | undefined)[] {
    return this.targets().map((t) => this.last.get(t.name));
  }

  start(): void {
    void this.round();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** All backends at once; the next round starts only when this one is over, so slow ones never pile up. */
  private async round(): Promise<void> {
    const next = new Map<string, ReplicaReplication | undefined>();
    await Promise.all(
      this.targets().map(async (t) => {
        next.set(t.name, this.isBuiltIn(t.name) ? await fetchReplication(t, this.timeoutMs) : undefined);
      }),
    );
    this.last = next;
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), this.intervalMs);
    this.timer.unref();
  }
}
