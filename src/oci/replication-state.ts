// The body of a replica's GET /v2/_replication/state (REPLICATION_STATE_PATH): its replication
// epoch, for its peers' anti-entropy, and what it still owes each peer, for the proxy's status
// page. Both registry and proxy speak it, so it lives here. Answered only to requests carrying
// REPLICATION_HEADER, which the proxy strips from client requests.

/**
 * Set by a built-in registry on its `GET /v2/` answer (the proxy's default health check), so the
 * proxy asks for replication figures only from backends that have them: any other registry
 * never sees the extra request.
 */
export const BUILTIN_REGISTRY_HEADER = 'x-ha-proxy-registry';

export interface PeerReplicationStatus {
  /** The peer's URL without credentials. */
  peer: string;
  /** The peer answers and is in the ack set (false: down, the queue repairs it later). */
  up: boolean;
  /** Replication tasks waiting for the peer. */
  queueDepth: number;
  /** Age of the oldest change not yet on the peer, in seconds (0: up to date). */
  lagSeconds: number;
}

export interface ReplicationStateBody {
  epoch: string;
  peers: PeerReplicationStatus[];
}

/** Bounded so a confused backend cannot make the proxy hold a large body. */
export const MAX_REPLICATION_STATE_BYTES = 256 * 1024;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function peerOf(value: unknown): PeerReplicationStatus | undefined {
  const p = value as Partial<PeerReplicationStatus> | null;
  if (typeof p?.peer !== 'string' || typeof p.up !== 'boolean' || !isCount(p.queueDepth) || !isCount(p.lagSeconds)) return undefined;
  return { peer: p.peer, up: p.up, queueDepth: p.queueDepth, lagSeconds: p.lagSeconds };
}

/** The body read back, keeping only well-formed fields; undefined when it is not one. */
export function parseReplicationState(text: string): ReplicationStateBody | undefined {
  let value: Partial<ReplicationStateBody> | null;
  try {
    value = JSON.parse(text) as Partial<ReplicationStateBody> | null;
  } catch {
    return undefined;
  }
  if (typeof value?.epoch !== 'string' || !Array.isArray(value.peers)) return undefined;
  const peers = value.peers.map(peerOf);
  return peers.every((p) => p !== undefined) ? { epoch: value.epoch, peers: peers as PeerReplicationStatus[] } : undefined;
}
