// The built-in registry's blob and upload endpoints over HTTP, against a real process.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { call, pushBlob, rawRequest, startRegistryProcess, type RegistryProcess, type RegistryProcessOptions } from '../helpers/registry-process.js';
import { storagesUnderTest } from '../helpers/storage-under-test.js';

const sha256 = (d: Buffer | string) => `sha256:${createHash('sha256').update(d).digest('hex')}`;
const sha512 = (d: Buffer | string) => `sha512:${createHash('sha512').update(d).digest('hex')}`;
const OCTET = { 'content-type': 'application/octet-stream' };

// Once per storage driver: the API must behave alike on a directory and on a bucket. What no
// driver can change (parsing, validation, answers for what was never stored) runs on the first only.
for (const storage of storagesUnderTest()) describe(`registry blobs and uploads (${storage.name})`, { skip: storage.skip }, () => {
  let reg: RegistryProcess;
  let base: string;
  let options: RegistryProcessOptions;
  before(async () => {
    options = { ...(await storage.options()), registry: { deleteEnabled: true } };
    reg = await startRegistryProcess(options);
    base = reg.url;
  });
  after(async () => {
    await reg?.stop();
  });

  storage.itOnce('answers GET /v2/ with 200, {} and the API version header', async () => {
    const res = await call(base, 'GET', '/v2/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(res.json(), {});
  });

  it('stores a monolithic POST ?digest= upload and serves it with GET, HEAD and ranges', async () => {
    const data = Buffer.from('0123456789abcdef');
    const digest = sha256(data);
    const post = await call(base, 'POST', `/v2/mono/blobs/uploads/?digest=${digest}`, { body: data, headers: OCTET });
    assert.equal(post.status, 201);
    assert.equal(post.headers.get('location'), `/v2/mono/blobs/${digest}`);
    assert.equal(post.headers.get('docker-content-digest'), digest);
    const get = await call(base, 'GET', `/v2/mono/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, data);
    assert.equal(get.headers.get('docker-content-digest'), digest);
    const head = await call(base, 'HEAD', `/v2/mono/blobs/${digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(data.length));
    const part = await call(base, 'GET', `/v2/mono/blobs/${digest}`, { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), '2345');
    assert.equal(part.headers.get('content-range'), `bytes 2-5/${data.length}`);
    const suffix = await call(base, 'GET', `/v2/mono/blobs/${digest}`, { headers: { range: 'bytes=-3' } });
    assert.equal(suffix.body.toString(), 'def');
    const open = await call(base, 'GET', `/v2/mono/blobs/${digest}`, { headers: { range: 'bytes=14-' } });
    assert.equal(open.body.toString(), 'ef');
  });

  it('streams a large blob, survives a client that disconnects mid-download, and serves it again', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 123);
    const digest = await pushBlob(base, 'large', data);
    await new Promise<void>((resolve, reject) => {
      const req = request(`${base}/v2/large/blobs/${digest}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
      req.end();
    });
    const again = await call(base, 'GET', `/v2/large/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.equal(sha256(again.body), digest);
    const tail = await call(base, 'GET', `/v2/large/blobs/${digest}`, { headers: { range: `bytes=${data.length - 5000000}-` } });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, data.subarray(data.length - 5000000));
  });

  storage.itOnce('answers 416 RANGE_INVALID for unsatisfiable and malformed ranges', async () => {
    const digest = await pushBlob(base, 'ranges', 'tiny');
    for (const range of ['bytes=10-20', 'bytes=a-b', 'bytes=0-1,3-4', 'items=0-1', 'bytes=3-1']) {
      const res = await call(base, 'GET', `/v2/ranges/blobs/${digest}`, { headers: { range } });
      assert.equal(res.status, 416, range);
      assert.equal(res.code(), 'RANGE_INVALID', range);
    }
  });

  storage.itOnce('accepts sha512 digests', async () => {
    const data = Buffer.from('sha512 content');
    const digest = sha512(data);
    const post = await call(base, 'POST', `/v2/sha512/blobs/uploads/?digest=${digest}`, { body: data, headers: OCTET });
    assert.equal(post.status, 201);
    const get = await call(base, 'GET', `/v2/sha512/blobs/${digest}`);
    assert.deepEqual(get.body, data);
    // Chunked session committed with a sha512 digest too.
    const start = await call(base, 'POST', '/v2/sha512/blobs/uploads/');
    const more = Buffer.from('chunked sha512');
    const put = await call(base, 'PUT', `${start.headers.get('location')}?digest=${sha512(more)}`, { body: more, headers: OCTET });
    assert.equal(put.status, 201);
  });

  it('runs a chunked upload: POST, PATCH with Content-Range, status GET, out-of-order 416, PUT with the last chunk', async () => {
    const data = Buffer.from('aaaaabbbbbccccc');
    const post = await call(base, 'POST', '/v2/chunked/blobs/uploads/');
    assert.equal(post.status, 202);
    const location = post.headers.get('location')!;
    assert.match(location, /^\/v2\/chunked\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(post.headers.get('range'), '0-0');
    assert.equal(post.headers.get('docker-upload-uuid'), location.split('/').pop());
    const p1 = await call(base, 'PATCH', location, { body: data.subarray(0, 5), headers: { ...OCTET, 'content-range': '0-4' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), '0-4');
    assert.equal(p1.headers.get('location'), location);
    const status = await call(base, 'GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-4');
    const outOfOrder = await call(base, 'PATCH', location, { body: data.subarray(10), headers: { ...OCTET, 'content-range': '10-14' } });
    assert.equal(outOfOrder.status, 416);
    assert.equal(outOfOrder.code(), 'RANGE_INVALID');
    const p2 = await call(base, 'PATCH', location, { body: data.subarray(5, 10), headers: { ...OCTET, 'content-range': '5-9' } });
    assert.equal(p2.headers.get('range'), '0-9');
    const put = await call(base, 'PUT', `${location}?digest=${sha256(data)}`, { body: data.subarray(10), headers: { ...OCTET, 'content-range': '10-14' } });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('location'), `/v2/chunked/blobs/${sha256(data)}`);
    assert.deepEqual((await call(base, 'GET', `/v2/chunked/blobs/${sha256(data)}`)).body, data);
    assert.equal((await call(base, 'GET', location)).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('appends streamed PATCH bodies without Content-Range and commits with an empty PUT', async () => {
    const post = await call(base, 'POST', '/v2/streamed/blobs/uploads/');
    const location = post.headers.get('location')!;
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('stream-'));
        c.enqueue(new TextEncoder().encode('ed'));
        c.close();
      },
    });
    const res = await fetch(`${base}${location}`, { method: 'PATCH', body, duplex: 'half', headers: OCTET } as RequestInit);
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), '0-8');
    const put = await call(base, 'PUT', `${location}?digest=${sha256('stream-ed')}`);
    assert.equal(put.status, 201);
  });

  it('rejects a digest mismatch on commit and keeps nothing of the blob', async () => {
    const wrong = sha256('something else');
    const post = await call(base, 'POST', '/v2/mismatch/blobs/uploads/');
    const location = post.headers.get('location')!;
    const put = await call(base, 'PUT', `${location}?digest=${wrong}`, { body: 'actual bytes', headers: OCTET });
    assert.equal(put.status, 400);
    assert.equal(put.code(), 'DIGEST_INVALID');
    assert.equal((await call(base, 'HEAD', `/v2/mismatch/blobs/${wrong}`)).status, 404);
    assert.equal((await call(base, 'HEAD', `/v2/mismatch/blobs/${sha256('actual bytes')}`)).status, 404);
    assert.equal((await call(base, 'GET', location)).code(), 'BLOB_UPLOAD_UNKNOWN');
    const mono = await call(base, 'POST', `/v2/mismatch/blobs/uploads/?digest=${wrong}`, { body: 'other bytes', headers: OCTET });
    assert.equal(mono.code(), 'DIGEST_INVALID');
    const stored = await storage.files(reg, options);
    assert.ok(stored.length > 0, 'the listing sees the storage');
    const leftovers = stored.filter((f) => f.includes(wrong.slice(7)) || f.includes(sha256('actual bytes').slice(7)) || f.startsWith('_tmp/'));
    assert.deepEqual(leftovers, []);
    assert.deepEqual(await storage.files(reg, options, 'repositories/mismatch/_uploads'), []);
  });

  storage.itOnce('answers DIGEST_INVALID for malformed, unsupported and missing digests', async () => {
    for (const bad of ['sha256:xyz', 'sha256:ABCDEF', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'nodigest']) {
      const res = await call(base, 'GET', `/v2/d/blobs/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.code(), 'DIGEST_INVALID', bad);
    }
    const post = await call(base, 'POST', '/v2/d/blobs/uploads/');
    const noDigest = await call(base, 'PUT', post.headers.get('location')!, { body: 'x', headers: OCTET });
    assert.equal(noDigest.code(), 'DIGEST_INVALID');
    assert.equal((await call(base, 'POST', '/v2/d/blobs/uploads/?digest=sha256:short', { body: 'x' })).code(), 'DIGEST_INVALID');
  });

  storage.itOnce('answers BLOB_UNKNOWN and BLOB_UPLOAD_UNKNOWN for unknown blobs and sessions', async () => {
    const unknown = sha256('never pushed');
    const get = await call(base, 'GET', `/v2/u/blobs/${unknown}`);
    assert.equal(get.status, 404);
    assert.equal(get.code(), 'BLOB_UNKNOWN');
    assert.equal((await call(base, 'HEAD', `/v2/u/blobs/${unknown}`)).status, 404);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await call(base, 'PATCH', `/v2/u/blobs/uploads/${id}`, { body: 'x' });
      assert.equal(res.status, 404);
      assert.equal(res.code(), 'BLOB_UPLOAD_UNKNOWN');
    }
  });

  storage.itOnce('refuses invalid repository names, including path escapes, with NAME_INVALID', async () => {
    for (const path of ['/v2/../x/tags/list', '/v2/a/../../x/blobs/uploads/', '/v2/Upper/tags/list', '/v2/a//b/tags/list', '/v2/-a/tags/list', '/v2/%2e%2e/x/tags/list', '/v2/a_/manifests/latest']) {
      const res = await rawRequest(base, 'GET', path);
      assert.equal(res.status, 400, path);
      assert.equal(JSON.parse(res.body).errors[0].code, 'NAME_INVALID', path);
    }
    assert.equal((await call(base, 'GET', `/v2/${'a'.repeat(256)}/tags/list`)).code(), 'NAME_INVALID');
  });

  storage.itOnce('answers malformed Content-Range with BLOB_UPLOAD_INVALID and a length mismatch with SIZE_INVALID', async () => {
    const post = await call(base, 'POST', '/v2/cr/blobs/uploads/');
    const location = post.headers.get('location')!;
    const bad = await call(base, 'PATCH', location, { body: 'abc', headers: { 'content-range': 'zero-two' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.code(), 'BLOB_UPLOAD_INVALID');
    const size = await call(base, 'PATCH', location, { body: 'abc', headers: { 'content-range': '0-9' } });
    assert.equal(size.status, 400);
    assert.equal(size.code(), 'SIZE_INVALID');
  });

  it('serves a blob only from repositories it was pushed or mounted into', async () => {
    const digest = await pushBlob(base, 'owner/repo', 'linked content');
    const other = await call(base, 'GET', `/v2/other/repo/blobs/${digest}`);
    assert.equal(other.code(), 'BLOB_UNKNOWN');
    const mount = await call(base, 'POST', `/v2/other/repo/blobs/uploads/?mount=${digest}&from=owner/repo`);
    assert.equal(mount.status, 201);
    assert.equal(mount.headers.get('location'), `/v2/other/repo/blobs/${digest}`);
    assert.equal(mount.headers.get('docker-content-digest'), digest);
    assert.equal((await call(base, 'GET', `/v2/other/repo/blobs/${digest}`)).body.toString(), 'linked content');
  });

  storage.itOnce('falls back to a normal upload session when the mount source is missing', async () => {
    const digest = await pushBlob(base, 'only/here', 'mount me');
    for (const query of [`mount=${digest}&from=nowhere`, `mount=${digest}`]) {
      const res = await call(base, 'POST', `/v2/target/blobs/uploads/?${query}`);
      assert.equal(res.status, 202, query);
      assert.match(res.headers.get('location')!, /^\/v2\/target\/blobs\/uploads\//);
    }
    assert.equal((await call(base, 'POST', `/v2/target/blobs/uploads/?mount=sha256:bad&from=only/here`)).code(), 'DIGEST_INVALID');
    assert.equal((await call(base, 'POST', `/v2/target/blobs/uploads/?mount=${digest}&from=Bad..Name`)).code(), 'NAME_INVALID');
  });

  it('cancels an upload with DELETE (204) after which the session is unknown', async () => {
    const post = await call(base, 'POST', '/v2/cancel/blobs/uploads/');
    const location = post.headers.get('location')!;
    await call(base, 'PATCH', location, { body: 'partial' });
    const del = await call(base, 'DELETE', location);
    assert.equal(del.status, 204);
    assert.equal((await call(base, 'GET', location)).status, 404);
    assert.equal((await call(base, 'DELETE', location)).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('deletes a blob link with DELETE (202), then answers BLOB_UNKNOWN', async () => {
    const digest = await pushBlob(base, 'del/blob', 'delete me');
    const del = await call(base, 'DELETE', `/v2/del/blob/blobs/${digest}`);
    assert.equal(del.status, 202);
    assert.equal((await call(base, 'HEAD', `/v2/del/blob/blobs/${digest}`)).status, 404);
    assert.equal((await call(base, 'DELETE', `/v2/del/blob/blobs/${digest}`)).code(), 'BLOB_UNKNOWN');
  });

  storage.itOnce('answers UNSUPPORTED (405) for methods a resource does not have', async () => {
    const digest = await pushBlob(base, 'methods', 'm');
    const res = await call(base, 'POST', `/v2/methods/blobs/${digest}`);
    assert.equal(res.status, 405);
    assert.equal(res.code(), 'UNSUPPORTED');
    assert.equal((await call(base, 'PUT', '/v2/')).status, 405);
  });
});
