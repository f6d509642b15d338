// The S3 client's fault decisions (s3-faults.ts): which errors are connection faults, and which
// failed requests may be sent once more within their deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from 'undici';
import { connectionFaultOf, describeConnectionFault, DEFAULT_S3_TIMEOUTS, mayRetry } from '../../src/registry/storage/s3-faults.js';
import { S3Error } from '../../src/registry/storage/s3-client.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('S3 connection faults', () => {
  it("names undici's and the socket's errors, and nothing else (an S3 error answer is no connection fault)", () => {
    assert.equal(connectionFaultOf(new errors.ConnectTimeoutError()), 'connectTimeout');
    assert.equal(connectionFaultOf(new errors.HeadersTimeoutError()), 'responseTimeout');
    assert.equal(connectionFaultOf(new errors.BodyTimeoutError()), 'bodyTimeout');
    assert.equal(connectionFaultOf(new errors.SocketError('other side closed')), 'reset');
    assert.equal(connectionFaultOf(errno('ECONNREFUSED')), 'connect');
    assert.equal(connectionFaultOf(errno('ECONNRESET')), 'reset');
    assert.equal(connectionFaultOf(errno('ENOSPC')), undefined);
    assert.equal(connectionFaultOf(new S3Error(503, 'SlowDown', 'S3 PUT: 503 SlowDown')), undefined);
    assert.equal(connectionFaultOf(undefined), undefined);
  });

  it('says which setting bounded a timeout', () => {
    assert.match(describeConnectionFault('responseTimeout', DEFAULT_S3_TIMEOUTS, 'UND_ERR_HEADERS_TIMEOUT'), /30000 ms \(registry\.s3\.timeouts\.responseHeadersMs\)/);
    assert.match(describeConnectionFault('bodyTimeout', DEFAULT_S3_TIMEOUTS, 'UND_ERR_BODY_TIMEOUT'), /registry\.s3\.timeouts\.bodyIdleMs/);
    assert.equal(describeConnectionFault('connect', DEFAULT_S3_TIMEOUTS, 'ECONNREFUSED'), 'cannot connect (ECONNREFUSED)');
  });

  it('sends a request once more only after a refused or closed connection, when it can be sent as it stands, within its deadline', () => {
    for (const method of ['GET', 'HEAD', 'DELETE', 'PUT']) assert.equal(mayRetry('reset', method, false, 1000), true, method);
    assert.equal(mayRetry('connect', 'GET', false, 1000), true);
    // Never twice: CreateMultipartUpload would leave a second upload, a completion fails on a done one.
    assert.equal(mayRetry('reset', 'POST', false, 1000), false);
    // A streamed body has been consumed.
    assert.equal(mayRetry('reset', 'PUT', true, 1000), false);
    // A timeout used the deadline: a second attempt would only make the client wait twice.
    for (const fault of ['connectTimeout', 'responseTimeout', 'bodyTimeout'] as const) assert.equal(mayRetry(fault, 'GET', false, 1000), false, fault);
    assert.equal(mayRetry('reset', 'GET', false, 0), false);
  });
});
