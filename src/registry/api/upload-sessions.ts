// Open upload sessions per repository and per client address. Without a cap a client could open
// ~1,000 sessions a second, each a directory kept until the purge. Counted in memory by the
// process that opened them (a restart forgets them; they still age out with the purge), and
// forgotten when they finish, are cancelled or are older than the purge age.
import { RetryLaterError } from '../../errors/retry-later.js';

export interface SessionLimits {
  maxOpenPerRepository: number;
  maxOpenPerClient: number;
  /** Sessions older than this are purged from storage, so they stop counting too. */
  maxAgeMs: number;
}

/** Why a new session is refused, or undefined when it may open. Pure. */
export function sessionRefusal(openInRepo: number, openByClient: number, limits: SessionLimits): string | undefined {
  if (openInRepo >= limits.maxOpenPerRepository) return `the repository has ${openInRepo} open upload sessions (registry.uploads.maxOpenPerRepository)`;
  if (openByClient >= limits.maxOpenPerClient) return `this client has ${openByClient} open upload sessions (registry.uploads.maxOpenPerClient)`;
  return undefined;
}

/** What a refused client is told to wait: sessions of a running push finish within seconds. */
const RETRY_AFTER_SECONDS = 10;

interface Session {
  repo: string;
  client: string;
  openedMs: number;
}

export class OpenSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly perRepo = new Map<string, number>();
  private readonly perClient = new Map<string, number>();

  constructor(private readonly limits: SessionLimits) {}

  /** Throws 429 TOO_MANY_REQUESTS when `client` may not open another session in `repo`. */
  admit(repo: string, client: string, nowMs = Date.now()): void {
    if (sessionRefusal(this.perRepo.get(repo) ?? 0, this.perClient.get(client) ?? 0, this.limits) === undefined) return;
    this.forgetOlderThan(nowMs - this.limits.maxAgeMs);
    const why = sessionRefusal(this.perRepo.get(repo) ?? 0, this.perClient.get(client) ?? 0, this.limits);
    if (why !== undefined) throw new RetryLaterError('TOO_MANY_REQUESTS', why, RETRY_AFTER_SECONDS);
  }

  opened(repo: string, id: string, client: string, nowMs = Date.now()): void {
    this.sessions.set(`${repo}\0${id}`, { repo, client, openedMs: nowMs });
    bump(this.perRepo, repo, 1);
    bump(this.perClient, client, 1);
  }

  /** The session ended (committed, cancelled, rejected or found gone); unknown ids are ignored. */
  closed(repo: string, id: string): void {
    const key = `${repo}\0${id}`;
    const session = this.sessions.get(key);
    if (!session) return;
    this.sessions.delete(key);
    bump(this.perRepo, session.repo, -1);
    bump(this.perClient, session.client, -1);
  }

  private forgetOlderThan(cutoffMs: number): void {
    for (const [key, session] of this.sessions) {
      // Insertion order is opening order: the first young one ends the scan.
      if (session.openedMs > cutoffMs) break;
      const [repo, id] = key.split('\0');
      this.closed(repo, id);
    }
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
