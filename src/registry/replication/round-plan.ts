// Which anti-entropy round a peer gets: a full comparison of every tag (repair), or only the
// changes recorded since the last round that peer completed. Pure.
//
// A round with changes only is right while the peer still holds everything the last completed
// round found on it. That stops being known when the peer's storage was replaced (its epoch, a
// random id kept in its replication state, changed), when the peer cannot name an epoch (a
// foreign registry: a reset of it cannot be seen), when the journal was cleared, and, against
// anything else (a restored backup, files removed by hand), after `fullIntervalMs`.

export interface PeerCursor {
  /** The peer's epoch when the round completed. */
  peerEpoch: string;
  /** The journal generation and sequence number the round started from. */
  journalGeneration: number;
  seq: number;
  /** When the last full comparison started. */
  fullAt: number;
}

export type RoundKind = 'full' | 'changes';

export interface RoundInput {
  cursor: PeerCursor | undefined;
  /** What the peer answered now; undefined when it cannot tell. */
  peerEpoch: string | undefined;
  journalGeneration: number;
  now: number;
  /** 0: full comparisons only on start and after a reset. */
  fullIntervalMs: number;
}

export function planRound(input: RoundInput): RoundKind {
  const { cursor, peerEpoch } = input;
  if (cursor === undefined || peerEpoch === undefined) return 'full';
  if (cursor.peerEpoch !== peerEpoch || cursor.journalGeneration !== input.journalGeneration) return 'full';
  if (input.fullIntervalMs > 0 && input.now - cursor.fullAt >= input.fullIntervalMs) return 'full';
  return 'changes';
}
