// skopeo, a real client, copies images into the built-in registry and back out byte-identical,
// and between Debian's docker-registry and ours.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { buildImageLayout, buildIndexLayout, sha256 } from '../helpers/oci-layout.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const host = (url: string) => url.replace(/^http:\/\//, '');

/** Digest of the top-level manifest in an OCI layout skopeo wrote. */
function layoutDigest(dir: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  return index.manifests[0].digest;
}

describe('skopeo against the built-in registry', () => {
  let reg: RegistryProcess;
  before(async () => {
    reg = await startRegistryProcess();
  });
  after(async () => {
    await reg?.stop();
  });

  it('copies a multi-layer image in and back out byte-identical', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const layout = buildImageLayout({ layerSizes: [1024, 200 * 1024, 700 * 1024] });
    const ref = `docker://${host(reg.url)}/skopeo/image:v1`;
    await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, ref);
    assert.equal(await skopeoDigest(ref), layout.digest);
    const out = mkdtempSync(join(tmpdir(), 'skopeo-out-'));
    await skopeoCopy(ref, `oci:${out}:v1`);
    assert.equal(layoutDigest(out), layout.digest);
    for (const [digest, bytes] of layout.blobs) {
      assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)))), sha256(bytes));
    }
  });

  it('copies a multi-platform index with --all in and back out byte-identical', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const layout = buildIndexLayout({ platforms: ['linux/amd64', 'linux/arm64', 'linux/s390x'] });
    const ref = `docker://${host(reg.url)}/skopeo/multi:v1`;
    await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, ref, ['--all']);
    assert.equal(await skopeoDigest(ref), layout.digest);
    const out = mkdtempSync(join(tmpdir(), 'skopeo-out-'));
    await skopeoCopy(ref, `oci:${out}:v1`, ['--all']);
    assert.equal(layoutDigest(out), layout.digest);
    for (const digest of layout.blobs.keys()) {
      assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)))), digest);
    }
  });

  describe('beside Debian docker-registry', () => {
    let dr: DockerRegistry | undefined;
    after(async () => {
      await dr?.stop();
    });

    it('copies from docker-registry into ours and back, keeping the digest', async (t) => {
      if (!requireTool(t, 'skopeo') || !requireTool(t, 'docker-registry')) return;
      dr = await startDockerRegistry();
      const layout = buildIndexLayout();
      const theirs = `docker://${host(dr.url)}/interop/app:v1`;
      await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, theirs, ['--all']);
      const ours = `docker://${host(reg.url)}/interop/app:v1`;
      await skopeoCopy(theirs, ours, ['--all']);
      assert.equal(await skopeoDigest(ours), layout.digest);
      const back = `docker://${host(dr.url)}/interop/back:v1`;
      await skopeoCopy(ours, back, ['--all']);
      assert.equal(await skopeoDigest(back), layout.digest);
    });
  });
});
