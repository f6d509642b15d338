// Headers that mark replication traffic between replicas, and the one replication-only endpoint.
//
// A request carrying REPLICATION_HEADER was sent by a peer's replicator: the receiving replica
// stores it but never replicates it onwards (so mutual replication cannot loop) and never
// answers it with an on-demand fetch from its own peers (so two replicas lacking an object
// cannot ask each other forever). REPLICATION_TIME_HEADER carries the origin's commit time, the
// input of the convergence rule in tag-resolution.ts.
//
// DELETED_HEADER goes the other way, on a 404 answer: the replica holds a tombstone for what was
// asked (a tag, a manifest or a blob link deleted at that time, ms since epoch). The proxy then
// passes the 404 on instead of asking the next replica, which may not have heard of the delete
// yet, and strips the header; a peer copying a blob uses it to leave a later delete alone. These
// names live in src/oci because proxy and registry both speak them.
import type { IncomingHttpHeaders } from 'node:http';

export const REPLICATION_HEADER = 'x-ha-proxy-replication';
export const REPLICATION_TIME_HEADER = 'x-ha-proxy-replication-time';
/**
 * Where a replica tells its peers its replication epoch (anti-entropy compares it before
 * choosing a round). Answered only to requests carrying REPLICATION_HEADER, which the proxy
 * strips from client requests, so clients never see it.
 */
export const REPLICATION_STATE_PATH = '/v2/_replication/state';
export const DELETED_HEADER = 'x-ha-proxy-deleted';

/** The tombstone time a 404 carries in DELETED_HEADER, if any. */
export function deletedAtHeader(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers[DELETED_HEADER];
  return typeof raw === 'string' && /^[0-9]{1,16}$/.test(raw) ? Number(raw) : undefined;
}

export interface ReplicationMark {
  /** Id of the replica that sent the request. */
  origin: string;
  /** Origin commit time (ms since epoch), when the request carried one. */
  time?: number;
}

export function replicationMark(headers: IncomingHttpHeaders): ReplicationMark | undefined {
  const origin = headers[REPLICATION_HEADER];
  if (typeof origin !== 'string' || origin === '') return undefined;
  const rawTime = headers[REPLICATION_TIME_HEADER];
  const time = typeof rawTime === 'string' && /^[0-9]{1,16}$/.test(rawTime) ? Number(rawTime) : undefined;
  return { origin, time };
}
