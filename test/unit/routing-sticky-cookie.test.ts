import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveKeyring, resolveSecret } from '../../src/oci/signing.js';
import { privateCacheControl, signCookieValue, stickyCookieHeader, takeCookie, verifyCookieValue } from '../../src/proxy/routing/sticky-cookie.js';

const key = deriveKeyring([resolveSecret('sixteen chars at least').value], 'sticky-cookie');

describe('sticky cookies', () => {
  it('names the backend in a signed value', () => {
    const value = signCookieValue(key, 'web-2');
    assert.equal(verifyCookieValue(key, value), 'web-2');
    assert.equal(verifyCookieValue(key, value.replace(/^[^.]+/, Buffer.from('web-1').toString('base64url'))), undefined);
    assert.equal(verifyCookieValue(key, 'web-2'), undefined);
    assert.equal(verifyCookieValue(key, '.'), undefined);
    assert.equal(verifyCookieValue(deriveKeyring([resolveSecret('sixteen chars at least').value], 'upload-token'), value), undefined);
  });

  it('removes only its own cookie from the request (indirect)', () => {
    assert.deepEqual(takeCookie('a=1; ha_proxy_backend=xyz; b=2', 'ha_proxy_backend'), { value: 'xyz', header: 'a=1; b=2' });
    assert.deepEqual(takeCookie('ha_proxy_backend="q"', 'ha_proxy_backend'), { value: 'q', header: undefined });
    assert.deepEqual(takeCookie(['a=1', 'ha_proxy_backend=v'], 'ha_proxy_backend'), { value: 'v', header: 'a=1' });
    assert.deepEqual(takeCookie('a=1;b=2', 'ha_proxy_backend'), { value: undefined, header: 'a=1; b=2' });
    assert.deepEqual(takeCookie(undefined, 'x'), { value: undefined, header: undefined });
  });

  it('sets a site-wide HttpOnly cookie', () => {
    assert.equal(stickyCookieHeader('srv', 'v'), 'srv=v; Path=/; HttpOnly; SameSite=Lax');
  });

  it('keeps responses that set the cookie out of shared caches (nocache)', () => {
    assert.equal(privateCacheControl(undefined), 'private');
    assert.equal(privateCacheControl('public, max-age=600, s-maxage=900'), 'private, max-age=600');
    assert.equal(privateCacheControl('no-store'), 'no-store');
    assert.equal(privateCacheControl('private, max-age=5'), 'private, max-age=5');
  });
});
