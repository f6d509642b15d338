import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { clientOrigin, hasRequestBody, prepareRequestHeaders, responseHeadersFromRaw, rewriteLocation } from '../../src/proxy/headers.js';
import { classifyUpstreamError, FAILURES, isRetryable, isServerError, type FailureCode } from '../../src/proxy/upstream-failure.js';

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

  it('copies response headers without hop-by-hop ones', () => {
    const raw = (...lines: string[]) => lines.map((l) => Buffer.from(l, 'latin1'));
    const out = responseHeadersFromRaw(raw('Content-Length', '5', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Docker-Content-Digest', 'sha256:x'));
    assert.deepEqual(out, { 'content-length': '5', 'set-cookie': ['a=1', 'b=2'], 'docker-content-digest': 'sha256:x' });
    // Fields the Connection header names are hop-by-hop too; other repeated fields are joined.
    assert.deepEqual(responseHeadersFromRaw(raw('Connection', 'X-Hop', 'X-Hop', '1', 'Link', '<a>', 'Link', '<b>')), { link: '<a>, <b>' });
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

describe('upstream failures', () => {
  const f = (code: FailureCode) => ({ code, detail: '' });
  it('maps each failure to a gateway status', () => {
    assert.equal(FAILURES.CONNECT_FAILED.status, 502);
    assert.equal(FAILURES.RESET.status, 502);
    assert.equal(FAILURES.CONNECT_TIMEOUT.status, 504);
    assert.equal(FAILURES.RESPONSE_TIMEOUT.status, 504);
  });

  it('classifies socket errors by whether the connection was up, and names the timeouts', () => {
    assert.equal(classifyUpstreamError('ECONNREFUSED', false), 'CONNECT_FAILED');
    assert.equal(classifyUpstreamError('ECONNRESET', false), 'CONNECT_FAILED');
    assert.equal(classifyUpstreamError('ECONNRESET', true), 'RESET');
    assert.equal(classifyUpstreamError('UND_ERR_SOCKET', true), 'RESET');
    assert.equal(classifyUpstreamError('EPIPE', true), 'RESET');
    assert.equal(classifyUpstreamError('UND_ERR_CONNECT_TIMEOUT', false), 'CONNECT_TIMEOUT');
    assert.equal(classifyUpstreamError('UND_ERR_HEADERS_TIMEOUT', true), 'RESPONSE_TIMEOUT');
  });

  it('files what the request or this process caused as nobody\'s failure, never the backend\'s', () => {
    // undici refuses to build the request (a target not starting with /, a bad header): before any connection.
    assert.equal(classifyUpstreamError('UND_ERR_INVALID_ARG', false), 'REQUEST_INVALID');
    assert.equal(classifyUpstreamError('UND_ERR_NOT_SUPPORTED', false), 'REQUEST_INVALID');
    for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS']) {
      assert.equal(classifyUpstreamError(code, false), 'LOCAL_RESOURCE', code);
      assert.equal(classifyUpstreamError(code, true), 'LOCAL_RESOURCE', code);
    }
    for (const code of ['REQUEST_INVALID', 'LOCAL_RESOURCE', 'CLIENT_ABORTED'] as const) {
      assert.equal(FAILURES[code].passive, false, code);
      assert.equal(isRetryable(f(code), 'GET', false), false, code);
    }
    assert.equal(FAILURES.REQUEST_INVALID.status, 400);
  });

  it('retries GET and HEAD after connect failures, resets and timeouts before the response', () => {
    for (const method of ['GET', 'HEAD']) {
      for (const code of ['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'RESET', 'RESPONSE_TIMEOUT'] as const) {
        assert.equal(isRetryable(f(code), method, false), true, `${method} ${code}`);
      }
    }
  });

  it('never replays a request body, and resends bodyless writes only when the backend never saw them', () => {
    assert.equal(isRetryable(f('CONNECT_FAILED'), 'PATCH', true), false);
    assert.equal(isRetryable(f('RESET'), 'PUT', true), false);
    assert.equal(isRetryable(f('CONNECT_FAILED'), 'POST', false), true);
    assert.equal(isRetryable(f('CONNECT_TIMEOUT'), 'DELETE', false), true);
    assert.equal(isRetryable(f('RESET'), 'POST', false), false, 'a reset once connected: the backend may have acted');
    assert.equal(isRetryable(f('RESPONSE_TIMEOUT'), 'DELETE', false), false);
    assert.equal(isRetryable(f('CLIENT_ABORTED'), 'GET', false), false);
  });

  it('after a mark-down, sends GET/HEAD to the next backend and answers every other request, never blaming the backend again', () => {
    const table: Array<[method: string, hasBody: boolean, retried: boolean]> = [
      ['GET', false, true],
      ['HEAD', false, true],
      // An upload chunk: answered (the upload route turns it into BLOB_UPLOAD_UNKNOWN).
      ['PATCH', true, false],
      ['PUT', true, false],
      // The backend may have acted on these before it froze.
      ['POST', false, false],
      ['DELETE', false, false],
    ];
    for (const [method, hasBody, retried] of table) assert.equal(isRetryable(f('MARKED_DOWN'), method, hasBody), retried, method);
    assert.equal(FAILURES.MARKED_DOWN.passive, false, 'the mark-down itself already counted');
    assert.equal(FAILURES.MARKED_DOWN.status, 503);
  });

  it('counts 5xx against a backend except 501 and 505', () => {
    assert.deepEqual([200, 404, 500, 501, 502, 503, 504, 505].map(isServerError), [false, false, true, false, true, true, true, false]);
  });
});
