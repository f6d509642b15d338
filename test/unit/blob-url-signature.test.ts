import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobSignaturesOf, signBlobUrl, verifyBlobSignature } from '../../src/oci/blob-url-signature.js';
import { deriveKeyring, type Keyring } from '../../src/oci/signing.js';

const keysOf = (...secrets: string[]): Keyring => deriveKeyring(secrets.map((s) => Buffer.from(s)) as [Buffer, ...Buffer[]], 'blob-redirect');
const keys = keysOf('the current routing secret');
const REPO = 'team-a/app';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;
const NOW = 1_800_000_000_000;
const signature = signBlobUrl(keys, REPO, DIGEST, NOW + 60_000);
const [version, expiry, mac] = signature.split('.');

/** The same MAC with one character changed (base64url stays canonical: the first character). */
const flipped = (text: string): string => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);

describe('blob URL signatures', () => {
  const cases: { name: string; keys?: Keyring; signature?: string; repo?: string; digest?: string; now?: number; ok: boolean; reason?: RegExp }[] = [
    { name: 'valid', ok: true },
    { name: 'valid up to its expiry second', now: NOW + 60_000, ok: true },
    { name: 'expired', now: NOW + 61_000, ok: false, reason: /expired/ },
    { name: 'another repository', repo: 'team-b/app', ok: false, reason: /does not match/ },
    { name: 'another digest', digest: OTHER_DIGEST, ok: false, reason: /does not match/ },
    { name: 'expiry moved later', signature: `${version}.${Number(expiry) + 3600}.${mac}`, ok: false, reason: /does not match/ },
    { name: 'MAC altered', signature: `${version}.${expiry}.${flipped(mac)}`, ok: false, reason: /does not match/ },
    { name: 'MAC truncated', signature: `${version}.${expiry}.${mac.slice(0, 10)}`, ok: false, reason: /does not match/ },
    { name: 'wrong secret', keys: keysOf('some other routing secret'), ok: false, reason: /does not match/ },
    { name: 'rotated: the old secret is still accepted', keys: keysOf('the next routing secret', 'the current routing secret'), ok: true },
    { name: 'rotated out: the old secret is gone', keys: keysOf('the next routing secret'), ok: false, reason: /does not match/ },
    { name: 'another purpose\'s key', keys: deriveKeyring([Buffer.from('the current routing secret')], 'upload-token'), ok: false, reason: /does not match/ },
    { name: 'unknown version', signature: `b2.${expiry}.${mac}`, ok: false, reason: /malformed/ },
    { name: 'expiry not a number', signature: `${version}.12e9.${mac}`, ok: false, reason: /malformed/ },
    { name: 'expiry with a sign', signature: `${version}.-${expiry}.${mac}`, ok: false, reason: /malformed/ },
    { name: 'MAC not base64url', signature: `${version}.${expiry}.${mac}=`, ok: false, reason: /does not match/ },
    { name: 'too many parts', signature: `${signature}.x`, ok: false, reason: /malformed/ },
    { name: 'empty', signature: '', ok: false, reason: /malformed/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const check = verifyBlobSignature(c.keys ?? keys, c.signature ?? signature, c.repo ?? REPO, c.digest ?? DIGEST, c.now ?? NOW);
      assert.equal(check.ok, c.ok, JSON.stringify(check));
      if (!check.ok && c.reason) assert.match(check.reason, c.reason);
    });
  }

  it('signs with the current secret only, so a rotated-out secret cannot verify new URLs', () => {
    const rotated = keysOf('the next routing secret', 'the current routing secret');
    const fresh = signBlobUrl(rotated, REPO, DIGEST, NOW + 60_000);
    assert.equal(verifyBlobSignature(keysOf('the next routing secret'), fresh, REPO, DIGEST, NOW).ok, true);
    assert.equal(verifyBlobSignature(keys, fresh, REPO, DIGEST, NOW).ok, false);
  });

  it('finds the signature parameters in a raw query', () => {
    assert.equal(blobSignaturesOf(''), undefined);
    assert.equal(blobSignaturesOf('ns=docker.io'), undefined);
    assert.deepEqual(blobSignaturesOf(`_ha_blob=${signature}`), [signature]);
    assert.deepEqual(blobSignaturesOf(`a=1&_ha_blob=x&_ha_blob=y`), ['x', 'y']);
  });
});
