import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { OciError } from '../../src/errors/oci-codes.js';
import { RetryLaterError } from '../../src/errors/retry-later.js';
import { clientAddress } from '../../src/registry/api/client-address.js';
import { bcryptCost, HtpasswdAuth, typicalCost } from '../../src/registry/auth/htpasswd.js';
import { afterFailure, retryAfterMs, type Bucket } from '../../src/registry/auth/login-throttle.js';

const limits = { burst: 3, refillMs: 1000 };
const header = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('failed sign-in throttle', () => {
  it('allows `burst` failures at once, then one per refill period, with the exact wait', () => {
    let b: Bucket | undefined;
    for (let i = 0; i < 3; i++) {
      assert.equal(retryAfterMs(b, limits, 0), 0, `failure ${i + 1} is allowed`);
      b = afterFailure(b, limits, 0);
    }
    assert.equal(retryAfterMs(b, limits, 0), 1000);
    assert.equal(retryAfterMs(b, limits, 400), 600);
    assert.equal(retryAfterMs(b, limits, 1000), 0, 'one token back after one period');
    b = afterFailure(b, limits, 1000);
    assert.equal(retryAfterMs(b, limits, 1500), 500);
    assert.equal(retryAfterMs(b, limits, 60_000), 0);
    // A long pause refills to `burst`, never beyond.
    b = afterFailure(b, limits, 60_000);
    b = afterFailure(b, limits, 60_000);
    b = afterFailure(b, limits, 60_000);
    assert.equal(retryAfterMs(b, limits, 60_000), 1000);
  });

  it('refuses an address with 429 and Retry-After before bcrypt runs, and leaves other addresses alone', async () => {
    let checks = 0;
    const hash = bcrypt.hashSync('right', 4);
    const auth = new HtpasswdAuth(new Map([['alice', hash]]), async (p, h) => {
      checks++;
      return bcrypt.compare(p, h);
    }, { burst: 2, refillMs: 60_000 });
    for (const guess of ['a', 'b']) {
      await assert.rejects(auth.authenticate(header('alice', guess), '10.0.0.1'), (e: unknown) => e instanceof OciError && e.code === 'UNAUTHORIZED');
    }
    const refused = await auth.authenticate(header('alice', 'c'), '10.0.0.1').then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof RetryLaterError);
    assert.equal(refused.code, 'TOO_MANY_REQUESTS');
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfterSeconds, 60);
    assert.equal(checks, 2, 'no bcrypt for a throttled address');
    assert.equal(await auth.authenticate(header('alice', 'right'), '10.0.0.2'), 'alice');
  });
});

describe('htpasswd timing', () => {
  it('checks an unknown user against a dummy hash of the stored entries\' cost', async () => {
    const cost5 = bcrypt.hashSync('x', 5);
    const seen: string[] = [];
    const auth = new HtpasswdAuth(new Map([['alice', cost5], ['bob', cost5], ['carol', bcrypt.hashSync('x', 6)]]), async (_p, h) => {
      seen.push(h);
      return false;
    });
    await assert.rejects(auth.authenticate(header('mallory', 'x'), 'a'));
    await assert.rejects(auth.authenticate(header('alice', 'wrong'), 'a'));
    assert.deepEqual(seen.map(bcryptCost), [5, 5]);
    assert.notEqual(seen[0], cost5, 'the dummy is not a real entry');
  });

  it('takes the median cost, bcrypt\'s default without entries', () => {
    assert.equal(typicalCost(['$2y$05$x', '$2y$12$x', '$2b$05$x']), 5);
    assert.equal(typicalCost([]), 10);
  });
});

describe('client address', () => {
  it('believes the last X-Forwarded-For hop only from a loopback peer', () => {
    assert.equal(clientAddress('127.0.0.1', '203.0.113.9, 10.1.1.1'), '10.1.1.1');
    assert.equal(clientAddress('::ffff:127.0.0.1', '10.1.1.1'), '10.1.1.1');
    assert.equal(clientAddress('::1', ['10.1.1.1', '10.2.2.2']), '10.2.2.2');
    assert.equal(clientAddress('192.0.2.7', '10.1.1.1'), '192.0.2.7');
    assert.equal(clientAddress('127.0.0.1', undefined), '127.0.0.1');
    assert.equal(clientAddress(undefined, undefined), '');
  });
});
