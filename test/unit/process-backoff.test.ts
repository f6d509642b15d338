// The one capped exponential backoff and the three retry loops built on it (child and worker
// restarts, replication retries, Redis reconnects): each keeps the delays it had before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/process/backoff.js';
import { nextRestartDelay, STABLE_MS } from '../../src/process/restart-policy.js';
import { redisRetryDelay } from '../../src/state/redis-state-store.js';

describe('backoffDelay', () => {
  const table: { attempt: number; options: Parameters<typeof backoffDelay>[1]; random?: number; delay: number }[] = [
    { attempt: 1, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 100 },
    { attempt: 2, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 200 },
    { attempt: 4, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 800 },
    { attempt: 5, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 1000 },
    { attempt: 5000, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 1000 },
    { attempt: 0, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 }, delay: 100 },
    // Jitter: +-20% by default, never past the cap.
    { attempt: 1, options: { initialDelayMs: 100, maxDelayMs: 1000 }, random: 0, delay: 80 },
    { attempt: 1, options: { initialDelayMs: 100, maxDelayMs: 1000 }, random: 1, delay: 120 },
    { attempt: 9, options: { initialDelayMs: 100, maxDelayMs: 1000 }, random: 1, delay: 1000 },
    { attempt: 1, options: { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 }, random: 0, delay: 50 },
  ];
  for (const row of table) {
    it(`attempt ${row.attempt} of ${JSON.stringify(row.options)} (random ${row.random ?? '-'}) waits ${row.delay} ms`, () => {
      assert.equal(backoffDelay(row.attempt, row.options, () => row.random ?? 0.5), row.delay);
    });
  }

  it('restarts a crash loop with doubling delays and a child that ran a stable minute at once', () => {
    const state = { failures: 0 };
    const opts = { minDelayMs: 100, maxDelayMs: 1000 };
    assert.deepEqual([10, 10, 10, 10, 10, 10].map((up) => nextRestartDelay(state, up, opts)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(nextRestartDelay(state, STABLE_MS, opts), 100);
  });

  it('reconnects to Redis as it always has: from 200 ms doubling to 2 s', () => {
    const before = (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);
    const attempts = [1, 2, 3, 4, 5, 6, 50, 10_000];
    assert.deepEqual(attempts.map(redisRetryDelay), attempts.map(before));
    assert.deepEqual(attempts.map(redisRetryDelay), [200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
  });
});
