import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl, splitCredentials } from '../../src/net/credentials.js';

const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

describe('URL credentials', () => {
  it('splits user:password@ into a shown URL and a decoded Basic header', () => {
    assert.deepEqual(splitCredentials('http://alice:pa%40ss%3Aw%2Frd@10.0.0.1:5000/prefix'), {
      url: 'http://10.0.0.1:5000/prefix',
      authorization: basic('alice:pa@ss:w/rd'),
    });
    assert.deepEqual(splitCredentials('https://bob@reg.example'), { url: 'https://reg.example', authorization: basic('bob:') });
    assert.deepEqual(splitCredentials('http://u:a:b@h:1'), { url: 'http://h:1', authorization: basic('u:a:b') });
  });

  it('leaves a URL without userinfo alone, including an @ after the authority', () => {
    assert.deepEqual(splitCredentials('http://127.0.0.1:5000'), { url: 'http://127.0.0.1:5000' });
    assert.equal(redactUrl('http://h:1/path@x'), 'http://h:1/path@x');
    assert.equal(redactUrl('http://u:p@h:1/path@x'), 'http://h:1/path@x');
  });
});
