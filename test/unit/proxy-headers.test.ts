import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { clientOrigin, hasRequestBody, prepareRequestHeaders, rewriteLocation } from '../../src/proxy/headers.js';
import { ResponseFields } from '../../src/proxy/response-fields.js';

describe('forwarded request headers', () => {
  it('keeps the Host, appends X-Forwarded-For and sets Proto and Host once', () => {
    const headers: IncomingHttpHeaders = { host: 'registry.example:5000', 'x-forwarded-for': '10.0.0.1' };
    prepareRequestHeaders(headers, '127.0.0.1', 'http');
    assert.equal(headers.host, 'registry.example:5000');
    assert.equal(headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], 'registry.example:5000');
  });

  it('keeps Proto and Host set by a TLS terminator in front', () => {
    const headers: IncomingHttpHeaders = { host: 'a', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' };
    prepareRequestHeaders(headers, '127.0.0.1', 'http');
    assert.equal(headers['x-forwarded-proto'], 'https');
    assert.equal(headers['x-forwarded-host'], 'public.example');
  });

  it('drops hop-by-hop headers, those named in Connection, and Expect', () => {
    const headers: IncomingHttpHeaders = { host: 'a', connection: 'x-secret, keep-alive', 'x-secret': '1', 'keep-alive': 'timeout=5', expect: '100-continue', te: 'trailers', authorization: 'Bearer t' };
    prepareRequestHeaders(headers, '::1', 'http');
    assert.deepEqual(Object.keys(headers).sort(), ['authorization', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('copies response headers without hop-by-hop ones, as the lines the backend sent', () => {
    const raw = (...lines: string[]) => lines.map((l) => Buffer.from(l, 'latin1'));
    const out = ResponseFields.fromRaw(raw('Content-Length', '5', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Docker-Content-Digest', 'sha256:x'));
    assert.deepEqual(out.list, ['content-length', '5', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'docker-content-digest', 'sha256:x']);
    // Fields the Connection header names are hop-by-hop too; get() joins repeated fields.
    const listed = ResponseFields.fromRaw(raw('Connection', 'X-Hop', 'X-Hop', '1', 'Link', '<a>', 'Link', '<b>'));
    assert.deepEqual(listed.list, ['link', '<a>', 'link', '<b>']);
    assert.equal(listed.get('link'), '<a>, <b>');
    assert.equal(listed.get('x-hop'), undefined);
  });

  it('edits response fields in place: set replaces every line, append adds one, delete removes all', () => {
    const fields = ResponseFields.of({ location: ['/a', '/b'], 'set-cookie': 'a=1', etag: '"1"' });
    fields.set('location', '/c');
    fields.append('set-cookie', 'b=2');
    fields.set('cache-control', 'private');
    assert.deepEqual(fields.list, ['location', '/c', 'set-cookie', 'a=1', 'etag', '"1"', 'set-cookie', 'b=2', 'cache-control', 'private']);
    assert.deepEqual(fields.all('set-cookie'), ['a=1', 'b=2']);
    fields.delete('set-cookie');
    assert.equal(fields.has('set-cookie'), false);
    // A value that equals a field name is never taken for one.
    const odd = ResponseFields.of({ 'x-a': 'etag', etag: '"2"' });
    odd.set('etag', '"3"');
    assert.deepEqual(odd.list, ['x-a', 'etag', 'etag', '"3"']);
  });

  it('tells whether a request has a body from its framing', () => {
    assert.equal(hasRequestBody({}), false);
    assert.equal(hasRequestBody({ 'content-length': '0' }), false);
    assert.equal(hasRequestBody({ 'content-length': '12' }), true);
    assert.equal(hasRequestBody({ 'transfer-encoding': 'chunked' }), true);
  });
});

describe('Location rewrite', () => {
  const origins = new Set(['http://10.0.0.5:5001', 'http://backend-b']);
  it('rewrites an absolute Location that points at a backend to the address the client used', () => {
    assert.equal(
      rewriteLocation('http://10.0.0.5:5001/v2/a/blobs/uploads/u1?_state=x%3D', origins, 'http://proxy:5000'),
      'http://proxy:5000/v2/a/blobs/uploads/u1?_state=x%3D',
    );
    assert.equal(rewriteLocation('http://backend-b:80/v2/', origins, 'http://proxy'), 'http://proxy/v2/');
  });
  it('leaves relative locations and other hosts (storage redirects) alone', () => {
    assert.equal(rewriteLocation('/v2/a/blobs/uploads/u1', origins, 'http://proxy'), undefined);
    assert.equal(rewriteLocation('https://s3.example/bucket/blob?sig=1', origins, 'http://proxy'), undefined);
  });
  it('takes the client origin from Host and the scheme a TLS terminator reported', () => {
    assert.equal(clientOrigin({ host: 'registry.example' }, '127.0.0.1:5000'), 'http://registry.example');
    assert.equal(clientOrigin({ host: 'registry.example', 'x-forwarded-proto': 'https' }, '127.0.0.1:5000'), 'https://registry.example');
    assert.equal(clientOrigin({ host: 'r.example', 'x-forwarded-proto': 'HTTPS, http' }, 'x'), 'https://r.example', 'the first hop counts');
    assert.equal(clientOrigin({ 'x-forwarded-proto': 'gopher' }, '127.0.0.1:5000'), 'http://127.0.0.1:5000', 'no Host, unknown scheme');
  });
});
