// Failed sign-ins per client address, as a token bucket: `burst` failures may happen at once,
// then one more every `refillMs`. An address without tokens is refused before bcrypt runs (429
// with Retry-After): without this, one client could try ~300 passwords a second. Successes
// cost nothing, so a person who mistypes a few times is never locked out.

export interface ThrottleLimits {
  burst: number;
  refillMs: number;
}

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  atMs: number;
}

/** The bucket brought up to `nowMs` (a missing one is full). Pure. */
export function refilled(bucket: Bucket | undefined, limits: ThrottleLimits, nowMs: number): Bucket {
  if (bucket === undefined) return { tokens: limits.burst, atMs: nowMs };
  const earned = Math.floor((nowMs - bucket.atMs) / limits.refillMs);
  if (earned <= 0) return bucket;
  const tokens = Math.min(limits.burst, bucket.tokens + earned);
  // Keep the fraction of a refill period already served, unless the bucket is full.
  return { tokens, atMs: tokens === limits.burst ? nowMs : bucket.atMs + earned * limits.refillMs };
}

/** Milliseconds until the address may try again; 0 when it may now. Pure. */
export function retryAfterMs(bucket: Bucket | undefined, limits: ThrottleLimits, nowMs: number): number {
  const current = refilled(bucket, limits, nowMs);
  return current.tokens > 0 ? 0 : current.atMs + limits.refillMs - nowMs;
}

/** The bucket after one more failure at `nowMs`. Pure. */
export function afterFailure(bucket: Bucket | undefined, limits: ThrottleLimits, nowMs: number): Bucket {
  const current = refilled(bucket, limits, nowMs);
  return { tokens: Math.max(0, current.tokens - 1), atMs: current.atMs };
}

/** Addresses remembered at most; beyond, the oldest entry is forgotten (it becomes full again). */
const MAX_ADDRESSES = 10_000;

export class LoginThrottle {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly limits: ThrottleLimits) {}

  /** 0 when `address` may try to sign in, else milliseconds to wait. */
  waitMs(address: string, nowMs = Date.now()): number {
    return retryAfterMs(this.buckets.get(address), this.limits, nowMs);
  }

  recordFailure(address: string, nowMs = Date.now()): void {
    const next = afterFailure(this.buckets.get(address), this.limits, nowMs);
    this.buckets.delete(address);
    if (this.buckets.size >= MAX_ADDRESSES) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(address, next);
  }
}
