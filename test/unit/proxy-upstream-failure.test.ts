import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyUpstreamError, FAILURES, isRetryable, isServerError, type FailureCode } from '../../src/proxy/upstream-failure.js';

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
    for (const code of ['REQUEST_INVALID', 'LOCAL_RESOURCE', 'PROXY_FAULT', 'CLIENT_ABORTED'] as const) {
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
