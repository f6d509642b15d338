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
});
