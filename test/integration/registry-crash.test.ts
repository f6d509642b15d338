// SIGKILL of the registry in the middle of uploads and pushes: after a restart nothing partial is
// visible, every stored blob matches its digest, and an interrupted chunked upload resumes from
// the last chunk that was acknowledged.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { call, pushImage, startRegistryProcess } from '../helpers/registry-process.js';

const sha256 = (d: Buffer | string) => `sha256:${createHash('sha256').update(d).digest('hex')}`;

/** Starts an upload body that keeps streaming until the server dies; returns the request. */
function endlessUpload(base: string, method: string, path: string): ClientRequest {
  const url = new URL(path, base);
  const req = request(url, { method, headers: { 'content-type': 'application/octet-stream', 'content-length': 64 * 1024 * 1024 } });
  req.on('error', () => undefined);
  const chunk = randomBytes(64 * 1024);
  const timer = setInterval(() => {
    if (req.destroyed) clearInterval(timer);
    else req.write(chunk);
  }, 5);
  req.on('close', () => clearInterval(timer));
  return req;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe('registry crash safety', () => {
  it('shows nothing partial after a SIGKILL during uploads, and resumes an interrupted chunked upload', async () => {
    let reg = await startRegistryProcess();
    const base = reg.url;
    const storage = reg.storage;
    try {
      // A finished push before the crash must survive it.
      const kept = await pushImage(base, 'crash/kept', 'v1');

      // A chunked upload with one acknowledged chunk, then a second chunk in flight.
      const first = randomBytes(256 * 1024);
      const post = await call(base, 'POST', '/v2/crash/chunked/blobs/uploads/');
      const location = post.headers.get('location')!;
      const p1 = await call(base, 'PATCH', location, { body: first, headers: { 'content-range': `0-${first.length - 1}` } });
      assert.equal(p1.status, 202);
      const inflight: ClientRequest[] = [endlessUpload(base, 'PATCH', location)];

      // Monolithic uploads and session PUTs that are mid-body when the process dies.
      const phantom = sha256('never completes');
      for (let i = 0; i < 3; i++) inflight.push(endlessUpload(base, 'POST', `/v2/crash/mono${i}/blobs/uploads/?digest=${phantom}`));
      const session = await call(base, 'POST', '/v2/crash/put/blobs/uploads/');
      inflight.push(endlessUpload(base, 'PUT', `${session.headers.get('location')}?digest=${phantom}`));

      // Manifest pushes racing the kill.
      let pushing = true;
      let pushed = 0;
      const pushes = (async () => {
        for (let i = 0; pushing; i++) {
          await pushImage(base, 'crash/tags', `t${i}`).then(
            () => pushed++,
            () => undefined,
          );
        }
      })();

      // Wait until bytes of the in-flight bodies have reached the disk and at least one tag exists
      // (on a loaded machine the bodies can get there before the first push completes, and the
      // tags list of a repository without tags is a 404), then kill.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const tmp = filesUnder(join(storage, '_tmp'));
        if (tmp.length >= 3 && pushed > 0) break;
        await sleep(20);
      }
      await sleep(100);
      await reg.stop('SIGKILL');
      pushing = false;
      await pushes;
      for (const req of inflight) req.destroy();

      reg = await startRegistryProcess({ storage });
      const after = reg.url;

      // Nothing of the interrupted blobs is visible anywhere.
      for (const repo of ['crash/mono0', 'crash/mono1', 'crash/mono2', 'crash/put']) {
        assert.equal((await call(after, 'HEAD', `/v2/${repo}/blobs/${phantom}`)).status, 404);
      }
      // Every blob on disk matches its digest (no torn file was renamed into place).
      for (const file of filesUnder(join(storage, 'blobs'))) {
        const hex = file.split('/').at(-2)!;
        assert.equal(sha256(readFileSync(file)), `sha256:${hex}`, file);
      }
      // Every tag that is visible resolves to a complete manifest.
      const tags = (await call(after, 'GET', '/v2/crash/tags/tags/list')).json().tags as string[];
      for (const tag of tags) {
        const m = await call(after, 'GET', `/v2/crash/tags/manifests/${tag}`);
        assert.equal(m.status, 200, tag);
        assert.equal(sha256(m.body), m.headers.get('docker-content-digest'));
      }
      // The pushed image is intact.
      const got = await call(after, 'GET', '/v2/crash/kept/manifests/v1');
      assert.deepEqual(got.body, kept.manifest);

      // The chunked upload resumes after the acknowledged chunk: the torn second chunk is gone.
      const status = await call(after, 'GET', location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${first.length - 1}`);
      const second = randomBytes(100 * 1024);
      const p2 = await call(after, 'PATCH', location, { body: second, headers: { 'content-range': `${first.length}-${first.length + second.length - 1}` } });
      assert.equal(p2.status, 202);
      const whole = Buffer.concat([first, second]);
      const put = await call(after, 'PUT', `${location}?digest=${sha256(whole)}`);
      assert.equal(put.status, 201);
      assert.deepEqual((await call(after, 'GET', `/v2/crash/chunked/blobs/${sha256(whole)}`)).body, whole);
    } finally {
      await reg.stop();
    }
  });
});
