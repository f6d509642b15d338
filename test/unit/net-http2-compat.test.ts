import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { http1Headers, http2ResponseHeaders } from '../../src/net/http2-compat.js';

describe('HTTP/2 requests as the proxy sees them', () => {
  it('drops pseudo-headers, takes Host from :authority, marks a body of unknown length', () => {
    const headers: Record<string, string | undefined> = { ':method': 'PATCH', ':path': '/v2/a/blobs/uploads/x', ':authority': 'reg.example:443', ':scheme': 'https', 'content-type': 'application/octet-stream' };
    http1Headers(headers, false);
    assert.deepEqual(headers, { host: 'reg.example:443', 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
  });

  it('keeps an explicit Host and Content-Length; no body when the stream ended with the headers', () => {
    const withLength: Record<string, string | undefined> = { ':authority': 'a', host: 'b', 'content-length': '5' };
    http1Headers(withLength, false);
    assert.deepEqual(withLength, { host: 'b', 'content-length': '5' });
    const bodiless: Record<string, string | undefined> = { ':method': 'GET', ':authority': 'a' };
    http1Headers(bodiless, true);
    assert.deepEqual(bodiless, { host: 'a' });
  });

  it('answers without the connection-specific headers HTTP/2 forbids', () => {
    assert.deepEqual(
      http2ResponseHeaders({
        Connection: 'close',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'x',
        // Node throws ERR_HTTP2_INVALID_CONNECTION_HEADERS on these two in an HTTP/2 response.
        'HTTP2-Settings': 'AAMAAABkAAQAAP__',
        te: 'gzip',
        'content-type': 'application/json',
        location: 'https://a/v2/',
      }),
      { 'content-type': 'application/json', location: 'https://a/v2/' },
    );
  });

  it('takes the flat list the forwarder writes, a repeated field as its lines in order', () => {
    assert.deepEqual(http2ResponseHeaders(['connection', 'close', 'set-cookie', 'a=1', 'content-type', 'text/plain', 'set-cookie', 'b=2']), {
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
    });
  });
});
