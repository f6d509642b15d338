// Two registry processes on one storage directory (zot's shared-storage clustering): an upload
// begun on one is continued and committed on the other, and content pushed to one is served by both.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';

const sha256 = (d: Buffer | string) => `sha256:${createHash('sha256').update(d).digest('hex')}`;

describe('two registry processes sharing one storage directory', () => {
  let a: RegistryProcess;
  let b: RegistryProcess;
  before(async () => {
    const storage = mkdtempSync(join(tmpdir(), 'ha-registry-shared-'));
    a = await startRegistryProcess({ storage });
    b = await startRegistryProcess({ storage });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('continues an upload begun on one process on the other, chunk by chunk', async () => {
    const parts = [randomBytes(100_000), randomBytes(50_000), randomBytes(70_000)];
    const whole = Buffer.concat(parts);
    const post = await call(a.url, 'POST', '/v2/shared/blobs/uploads/');
    assert.equal(post.status, 202);
    const location = post.headers.get('location')!;
    let offset = 0;
    const servers = [b, a, b];
    for (let i = 0; i < parts.length; i++) {
      const res = await call(servers[i].url, 'PATCH', location, { body: parts[i], headers: { 'content-range': `${offset}-${offset + parts[i].length - 1}` } });
      assert.equal(res.status, 202, `chunk ${i}`);
      offset += parts[i].length;
      assert.equal(res.headers.get('range'), `0-${offset - 1}`);
    }
    const status = await call(a.url, 'GET', location);
    assert.equal(status.headers.get('range'), `0-${whole.length - 1}`);
    // The committing process never saw the first chunk: it re-hashes the data from storage.
    const put = await call(a.url, 'PUT', `${location}?digest=${sha256(whole)}`);
    assert.equal(put.status, 201);
    for (const reg of [a, b]) assert.deepEqual((await call(reg.url, 'GET', `/v2/shared/blobs/${sha256(whole)}`)).body, whole);
  });

  it('rejects on the second process a chunk that does not follow what the first received', async () => {
    const post = await call(a.url, 'POST', '/v2/shared/blobs/uploads/');
    const location = post.headers.get('location')!;
    await call(a.url, 'PATCH', location, { body: 'abcde', headers: { 'content-range': '0-4' } });
    const res = await call(b.url, 'PATCH', location, { body: 'abcde', headers: { 'content-range': '0-4' } });
    assert.equal(res.status, 416);
  });

  it('serves an image pushed to one process from the other', async () => {
    const image = await pushImage(a.url, 'shared/image', 'v1');
    const got = await call(b.url, 'GET', '/v2/shared/image/manifests/v1');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, image.manifest);
    assert.equal((await call(b.url, 'HEAD', `/v2/shared/image/blobs/${image.configDigest}`)).status, 200);
  });
});
