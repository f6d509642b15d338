// The built-in registry on a full disk (a small tmpfs as its storage): every write answers 507
// with an OCI error, a chunk that hit the limit is cut back to the upload's committed size, and
// nothing is left behind. Mounting needs root: elsewhere the suite is skipped, except in CI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chunkedRequest } from '../helpers/raw-client.js';
import { sha256 } from '../helpers/oci-layout.js';
import { call, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('registry-full-disk needs root in CI (it mounts a tmpfs)');
const skip = isRoot ? false : 'needs root to mount a tmpfs (skipped outside CI)';

/** Writes zeros into `path` until the file system refuses (ENOSPC). */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

const errorCode = (body: string) => (JSON.parse(body) as { errors: { code: string }[] }).errors[0].code;

describe('registry on a full disk', { skip }, () => {
  let mountPoint: string;
  let storage: string;
  let reg: RegistryProcess;
  before(async () => {
    mountPoint = mkdtempSync(join(tmpdir(), 'ha-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint]);
    storage = join(mountPoint, 'storage');
    reg = await startRegistryProcess({ storage });
  });
  after(async () => {
    await reg?.stop();
    if (mountPoint) {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });

  it('cuts a chunk that fills the disk back to the committed size and answers 507', async () => {
    const start = await call(reg.url, 'POST', '/v2/full/blobs/uploads/');
    const location = start.headers.get('location') as string;
    const id = start.headers.get('docker-upload-uuid') as string;
    const first = await call(reg.url, 'PATCH', location, { body: Buffer.alloc(102400, 1), headers: { 'content-range': '0-102399', 'content-type': 'application/octet-stream' } });
    assert.equal(first.status, 202);
    const res = await chunkedRequest(reg.url, 'PATCH', location, 32 * 1024 * 1024, { 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 507);
    assert.equal(errorCode(res.body), 'UNAVAILABLE');
    const status = await call(reg.url, 'GET', location);
    assert.equal(status.headers.get('range'), '0-102399');
    assert.equal(statSync(join(storage, 'repositories', 'full', '_uploads', id, 'data')).size, 102400);
  });

  it('answers every write with 507 and an OCI error while the disk is full, and leaves no temporary file', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    assert.equal((await call(reg.url, 'POST', `/v2/full/blobs/uploads/?digest=${sha256(config)}`, { body: config, headers: { 'content-type': 'application/octet-stream' } })).status, 201);
    const filler = join(mountPoint, 'filler');
    fillUp(filler);
    try {
      const blob = Buffer.from('a small blob');
      const post = await call(reg.url, 'POST', `/v2/full/blobs/uploads/?digest=${sha256(blob)}`, { body: blob, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(post.status, 507);
      assert.equal(post.code(), 'UNAVAILABLE');
      const session = await call(reg.url, 'POST', '/v2/full/blobs/uploads/');
      assert.equal(session.status, 507);
      assert.equal(session.code(), 'UNAVAILABLE');
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
      const put = await call(reg.url, 'PUT', '/v2/full/manifests/latest', { body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(put.status, 507);
      assert.equal(put.code(), 'UNAVAILABLE');
      assert.deepEqual(readdirSync(join(storage, '_tmp')), []);
    } finally {
      rmSync(filler, { force: true });
    }
    const blob = Buffer.from('room again');
    const post = await call(reg.url, 'POST', `/v2/full/blobs/uploads/?digest=${sha256(blob)}`, { body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(post.status, 201);
  });
});
