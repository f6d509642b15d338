// On-demand fetches: a manifest or blob a client asks for that is not stored here is fetched from
// a peer that answers, verified, stored, then served by the registry from local storage.
// Identical concurrent requests share one fetch.
import { digestOf } from '../../oci/digest.js';
import type { Logger } from '../../observability/logger.js';
import { copyManifestFromPeer } from './copy-to-peer.js';
import type { PeerState } from './peer-state.js';
import type { ReplicaStore } from './replica-store.js';
import type { ReplicationMetrics } from './replication-metrics.js';
import { SingleFlight } from './single-flight.js';

export interface OnDemandOptions {
  store: ReplicaStore;
  /** Peers that answer right now. */
  upPeers: () => PeerState[];
  /** Every configured peer, those that answer first. */
  allPeers: () => PeerState[];
  /** True for a manifest digest or blob link (blob-links.ts) deleted here: never fetched back. */
  deletedHere: (repo: string, reference: string) => boolean;
  /** Told of a failure so a silent peer can be marked down. */
  failed: (peer: PeerState, err: unknown) => void;
  metrics: ReplicationMetrics;
  logger: Logger;
}

/**
 * How long a peer may take to start answering a blob GET asked for a manifest PUT. A replica
 * answers after one stat (milliseconds on loopback); 2 s leaves room for a loaded host while a
 * frozen or unreachable peer delays the push by no more than that.
 */
export const EVERY_PEER_ANSWER_MS = 2000;

export class OnDemandFetcher {
  private readonly fetches = new SingleFlight<boolean>();

  constructor(private readonly options: OnDemandOptions) {}

  /** True when the manifest (with its blobs and children) was fetched and is now stored. */
  manifest(repo: string, reference: string): Promise<boolean> {
    const { store, metrics, logger } = this.options;
    return this.fetches.run(`m\n${repo}\n${reference}`, async () => {
      for (const peer of this.options.upPeers()) {
        try {
          const found = await copyManifestFromPeer(store, peer.client, repo, reference, verifyDigest, (ref) => this.options.deletedHere(repo, ref));
          metrics.onDemand.inc({ kind: 'manifest', result: found ? 'fetched' : 'absent' });
          if (found) return true;
        } catch (err) {
          metrics.onDemand.inc({ kind: 'manifest', result: 'error' });
          this.options.failed(peer, err);
          logger.warn({ err, peer: peer.id, repo, reference }, 'on-demand manifest fetch failed');
        }
      }
      return false;
    });
  }

  /**
   * `everyPeer` (a manifest PUT that fails without the blob): peers believed down are asked too,
   * since one that was frozen and has just resumed is still marked down until its next probe
   * (a push spanning a failover failed with MANIFEST_BLOB_UNKNOWN that way). Each peer gets
   * EVERY_PEER_ANSWER_MS to start answering, so a peer that really is gone costs little.
   */
  blob(repo: string, digest: string, everyPeer = false): Promise<boolean> {
    const { store, metrics, logger } = this.options;
    const peers = everyPeer ? this.options.allPeers : this.options.upPeers;
    const answerWithinMs = everyPeer ? EVERY_PEER_ANSWER_MS : undefined;
    return this.fetches.run(`b\n${repo}\n${digest}\n${everyPeer}`, async () => {
      for (const peer of peers()) {
        try {
          const remote = await peer.client.getBlob(repo, digest, answerWithinMs);
          if (!remote) {
            metrics.onDemand.inc({ kind: 'blob', result: 'absent' });
            continue;
          }
          // The store verifies the digest while the bytes stream in and keeps nothing on a mismatch.
          await store.putBlob(repo, digest, remote.stream, remote.size);
          metrics.onDemand.inc({ kind: 'blob', result: 'fetched' });
          return true;
        } catch (err) {
          metrics.onDemand.inc({ kind: 'blob', result: 'error' });
          this.options.failed(peer, err);
          logger.warn({ err, peer: peer.id, repo, digest }, 'on-demand blob fetch failed');
        }
      }
      return false;
    });
  }
}

/** Checks fetched manifest bytes against the digest they were asked by (or announced with). */
export function verifyDigest(body: Buffer, expected: string | undefined): string {
  const algorithm = expected?.split(':')[0] ?? 'sha256';
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw new Error(`unsupported digest algorithm ${algorithm}`);
  const actual = digestOf(algorithm, body).value;
  if (expected !== undefined && actual !== expected) throw new Error(`digest mismatch: expected ${expected}, got ${actual}`);
  return actual;
}
