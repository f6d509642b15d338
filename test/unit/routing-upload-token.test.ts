import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveKeyring, resolveSecret } from '../../src/oci/signing.js';
import { signUploadToken, verifyUploadToken } from '../../src/proxy/routing/upload-token.js';
import { setQueryParam, takeQueryParam } from '../../src/proxy/routing/query-param.js';

const secret = resolveSecret('a shared secret of some length');
const key = deriveKeyring([secret.value], 'upload-token');

describe('upload tokens', () => {
  it('round-trips the backend for the repository it was issued for', () => {
    const token = signUploadToken(key, 'registry-2', 'team-a/app');
    assert.match(token, /^u1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(verifyUploadToken(key, token, 'team-a/app'), { ok: true, backend: 'registry-2' });
  });

  it('is verified by another process configured with the same secret', () => {
    const otherKey = deriveKeyring([resolveSecret('a shared secret of some length').value], 'upload-token');
    assert.deepEqual(verifyUploadToken(otherKey, signUploadToken(key, 'b', 'r'), 'r'), { ok: true, backend: 'b' });
  });

  it('rejects a token moved to another repository, signed with another secret, or for another purpose', () => {
    const token = signUploadToken(key, 'b', 'team-a/app');
    assert.equal(verifyUploadToken(key, token, 'team-b/app').ok, false);
    const otherKey = deriveKeyring([resolveSecret('a different secret entirely').value], 'upload-token');
    assert.equal(verifyUploadToken(otherKey, token, 'team-a/app').ok, false);
    const cookieKey = deriveKeyring([secret.value], 'sticky-cookie');
    assert.equal(verifyUploadToken(cookieKey, token, 'team-a/app').ok, false);
  });

  it('accepts tokens signed before a rotation, and signs new ones with the current secret only', () => {
    const old = deriveKeyring([resolveSecret('the secret before the rotation').value], 'upload-token');
    const rotated = deriveKeyring([resolveSecret('the secret after the rotation').value, resolveSecret('the secret before the rotation').value], 'upload-token');
    assert.deepEqual(verifyUploadToken(rotated, signUploadToken(old, 'b', 'r'), 'r'), { ok: true, backend: 'b' });
    const fresh = signUploadToken(rotated, 'b', 'r');
    assert.equal(verifyUploadToken(old, fresh, 'r').ok, false);
    assert.deepEqual(verifyUploadToken([rotated[0]], fresh, 'r'), { ok: true, backend: 'b' });
  });

  it('rejects forged and corrupted tokens without throwing', () => {
    const token = signUploadToken(key, 'b', 'r');
    const [v, backend, mac] = token.split('.');
    const forgedBackend = Buffer.from('a').toString('base64url');
    const cases = [
      '',
      'garbage',
      `${v}.${forgedBackend}.${mac}`, // another backend under the same MAC
      `${v}.${backend}.${mac.slice(0, -2)}`, // truncated MAC
      `${v}.${backend}.${mac}AA`, // lengthened MAC
      `${v}.${backend}.${mac.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`, // one flipped character
      `u2.${backend}.${mac}`,
      `${v}..${mac}`,
      `${v}.${backend}.${mac}.extra`,
      `${v}.%%%.${mac}`,
      `${v}.${backend}.${mac}=`,
      `${v}.${Buffer.from('b\0x').toString('base64url')}.${mac}`,
    ];
    for (const bad of cases) {
      const result = verifyUploadToken(key, bad, 'r');
      assert.equal(result.ok, false, bad);
      if (!result.ok) assert.ok(result.reason.length > 0);
    }
  });

  it('makes up a random secret per process when none is configured', () => {
    const a = resolveSecret(undefined);
    const b = resolveSecret(undefined);
    assert.equal(a.generated, true);
    assert.equal(secret.generated, false);
    assert.notDeepEqual(a.value, b.value);
    const token = signUploadToken(deriveKeyring([a.value], 'upload-token'), 'x', 'r');
    assert.equal(verifyUploadToken(deriveKeyring([b.value], 'upload-token'), token, 'r').ok, false);
  });
});

describe('query parameters', () => {
  it('adds the token to a Location, keeping the registry’s own state byte for byte', () => {
    const loc = 'http://proxy:5000/v2/r/blobs/uploads/u-1?_state=ab%2Bc%3D%3D';
    assert.equal(setQueryParam(loc, '_ha_upload', 'T'), `${loc}&_ha_upload=T`);
    assert.equal(setQueryParam('/v2/r/blobs/uploads/u-1', '_ha_upload', 'T'), '/v2/r/blobs/uploads/u-1?_ha_upload=T');
    assert.equal(setQueryParam('/x?a=1&_ha_upload=old&b=2', '_ha_upload', 'T'), '/x?a=1&b=2&_ha_upload=T');
    assert.equal(setQueryParam('/x?#frag', '_ha_upload', 'T'), '/x?_ha_upload=T#frag');
  });

  it('strips the token before forwarding, keeping everything else', () => {
    assert.deepEqual(takeQueryParam('/v2/r/blobs/uploads/u?_state=a%3D&_ha_upload=T&digest=sha256%3Aab', '_ha_upload'), {
      values: ['T'],
      url: '/v2/r/blobs/uploads/u?_state=a%3D&digest=sha256%3Aab',
    });
    assert.deepEqual(takeQueryParam('/v2/r/blobs/uploads/u?_ha_upload=T', '_ha_upload'), { values: ['T'], url: '/v2/r/blobs/uploads/u' });
    assert.deepEqual(takeQueryParam('/a?_ha_upload=1&_ha_upload=2', '_ha_upload'), { values: ['1', '2'], url: '/a' });
    assert.deepEqual(takeQueryParam('/a?x_ha_upload=1', '_ha_upload'), { values: [], url: '/a?x_ha_upload=1' });
    assert.deepEqual(takeQueryParam('/a', '_ha_upload'), { values: [], url: '/a' });
    assert.deepEqual(takeQueryParam('/a?_ha_upload=%zz', '_ha_upload').values, ['\uFFFD']);
  });
});
