// SigV4 against the worked examples of the S3 API reference ("Authenticating Requests: Using the
// Authorization Header" and "Query String Authentication"): same inputs, same signatures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Client } from '../../src/registry/storage/s3-client.js';
import { EMPTY_SHA256, presignUrl, signRequest, uriEncode } from '../../src/registry/storage/s3-sigv4.js';

const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const now = new Date('2013-05-24T00:00:00Z');

describe('SigV4 for S3', () => {
  it('signs GET Object with a Range header like the reference example', () => {
    const headers = signRequest(
      { method: 'GET', url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'), headers: { Range: 'bytes=0-9' }, payloadHash: EMPTY_SHA256, region: 'us-east-1', now },
      creds,
    );
    assert.equal(
      headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    assert.equal(headers['x-amz-date'], '20130524T000000Z');
  });

  it('signs PUT Object with a hashed body and extra headers like the reference example', () => {
    const body = 'Welcome to Amazon S3.';
    const headers = signRequest(
      {
        method: 'PUT',
        url: new URL('https://examplebucket.s3.amazonaws.com/test$file.text'),
        headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
        payloadHash: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        region: 'us-east-1',
        now,
      },
      creds,
    );
    assert.equal(body.length, 21);
    assert.match(headers.authorization, /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd$/);
  });

  it('signs a query string (GET Bucket list) like the reference example', () => {
    const headers = signRequest(
      { method: 'GET', url: new URL('https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J'), payloadHash: EMPTY_SHA256, region: 'us-east-1', now },
      creds,
    );
    assert.match(headers.authorization, /Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7$/);
  });

  it('presigns a GET like the reference example', () => {
    const url = presignUrl({ method: 'GET', url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'), region: 'us-east-1', now }, creds, 86400);
    assert.equal(url.searchParams.get('X-Amz-Signature'), 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
    assert.equal(url.searchParams.get('X-Amz-Credential'), 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request');
  });

  it('presigns object GETs for the blob redirect: virtual-hosted like the reference example, or path-style', () => {
    const hosted = new S3Client({ endpoint: 'https://s3.amazonaws.com', region: 'us-east-1', bucket: 'examplebucket', virtualHosted: true }, () => creds);
    const url = hosted.presignGet('test.txt', 86400, now);
    assert.equal(`${url.origin}${url.pathname}`, 'https://examplebucket.s3.amazonaws.com/test.txt');
    assert.equal(url.searchParams.get('X-Amz-Signature'), 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
    const pathStyle = new S3Client({ endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', bucket: 'examplebucket' }, () => creds);
    const local = pathStyle.presignGet('reg/blobs/sha256/ab/ab12/data', 60, now);
    assert.equal(`${local.origin}${local.pathname}`, 'http://127.0.0.1:7480/examplebucket/reg/blobs/sha256/ab/ab12/data');
    assert.equal(local.searchParams.get('X-Amz-Expires'), '60');
  });

  it('encodes all but unreserved characters, and keeps slashes only in paths', () => {
    assert.equal(uriEncode('a b/c~d$é'), 'a%20b%2Fc~d%24%C3%A9');
    assert.equal(uriEncode('a b/c', true), 'a%20b/c');
  });
});
