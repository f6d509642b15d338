import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { OciError } from '../../src/errors/oci-codes.js';
import { HtpasswdAuth, parseHtpasswd } from '../../src/registry/auth/htpasswd.js';

const header = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const unauthorized = (e: unknown) => e instanceof OciError && e.code === 'UNAUTHORIZED';

describe('htpasswd basic auth', () => {
  const hash = bcrypt.hashSync('pw:with:colons', 4);
  it('parses bcrypt entries and reports other hash kinds', () => {
    const { users, problems } = parseHtpasswd(`# comment\n\nalice:${hash}\nbob:{SHA}abc\ncarol:$apr1$x$y\n`);
    assert.deepEqual([...users.keys()], ['alice']);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /^line 4: only bcrypt/);
  });
  it('accepts the right password (which may contain colons) and refuses everything else', async () => {
    const auth = new HtpasswdAuth(new Map([['alice', hash.replace('$2b$', '$2y$')]]));
    assert.equal(await auth.authenticate(header('alice', 'pw:with:colons')), 'alice');
    // Cached: the second check does not need bcrypt, and still answers the same.
    assert.equal(await auth.authenticate(header('alice', 'pw:with:colons')), 'alice');
    for (const h of [undefined, '', 'Bearer x', header('alice', 'nope'), header('mallory', 'pw:with:colons'), 'Basic !!!']) {
      await assert.rejects(auth.authenticate(h), unauthorized, String(h));
    }
  });

  it('remembers refused credentials, so a client retrying a wrong password costs one bcrypt check', async () => {
    let checks = 0;
    const auth = new HtpasswdAuth(new Map([['alice', hash]]), async (password, h) => {
      checks++;
      return bcrypt.compare(password, h);
    });
    for (let i = 0; i < 5; i++) await assert.rejects(auth.authenticate(header('alice', 'stale')), unauthorized);
    assert.equal(checks, 1);
    await assert.rejects(auth.authenticate(header('alice', 'another guess')), unauthorized);
    assert.equal(checks, 2, 'a different header is checked');
    assert.equal(await auth.authenticate(header('alice', 'pw:with:colons')), 'alice');
  });

  it('answers 429 instead of queueing more bcrypt checks than it runs at once', async () => {
    const pending: Array<() => void> = [];
    const auth = new HtpasswdAuth(new Map([['alice', hash]]), () => new Promise<boolean>((resolve) => pending.push(() => resolve(false))));
    const inFlight = [1, 2, 3, 4].map((i) => auth.authenticate(header('alice', `guess-${i}`)));
    await assert.rejects(auth.authenticate(header('alice', 'guess-5')), (e: unknown) => e instanceof OciError && e.code === 'TOO_MANY_REQUESTS' && e.status === 429);
    for (const release of pending) release();
    for (const p of inFlight) await assert.rejects(p, unauthorized);
    // Capacity is back once the checks are done.
    const next = auth.authenticate(header('alice', 'guess-6'));
    pending.at(-1)!();
    await assert.rejects(next, unauthorized);
  });
});
