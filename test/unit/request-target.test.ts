import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionCap, MAX_REQUEST_HEADERS } from '../../src/net/server-limits.js';
import { checkRequestTarget } from '../../src/proxy/request-target.js';

describe('request targets the proxy forwards', () => {
  it('passes origin form unchanged', () => {
    assert.deepEqual(checkRequestTarget('/v2/a/blobs/uploads/?x=1'), { ok: true, url: '/v2/a/blobs/uploads/?x=1' });
  });

  it('normalises absolute form to origin form and takes the host from the target', () => {
    assert.deepEqual(checkRequestTarget('http://reg.example:5000/v2/a/manifests/v1'), { ok: true, url: '/v2/a/manifests/v1', host: 'reg.example:5000' });
    assert.deepEqual(checkRequestTarget('HTTPS://reg.example/v2/?n=1'), { ok: true, url: '/v2/?n=1', host: 'reg.example' });
    assert.deepEqual(checkRequestTarget('http://reg.example'), { ok: true, url: '/', host: 'reg.example' });
    assert.deepEqual(checkRequestTarget('http://reg.example?q'), { ok: true, url: '/?q', host: 'reg.example' });
  });

  it('refuses what no backend can be sent: asterisk form, other schemes, user info, bare words', () => {
    for (const target of ['*', 'ftp://x/', '*x', 'x/v2/', 'http://user:pw@host/v2/', 'http:///v2/', 'reg.example:443', '/v2/\u0100']) {
      assert.equal(checkRequestTarget(target).ok, false, target);
    }
  });
});

describe('listener limits', () => {
  it('derives the connection cap from the open-files limit when none is configured', () => {
    assert.equal(connectionCap(500, 1024), 500, 'a configured cap wins');
    assert.equal(connectionCap(0, 1024), 480, 'two descriptors per connection, 64 kept back');
    assert.equal(connectionCap(0, 64), 16, 'never below the floor');
    assert.equal(connectionCap(0, undefined), undefined);
    assert.equal(connectionCap(0, Infinity), undefined);
  });

  it('keeps the header-line cap below what the built-in registry (Node, 2000) keeps', () => {
    assert.ok(MAX_REQUEST_HEADERS + 3 < 2000);
  });
});
