// `ha-proxy gc`: after a manifest delete, the blobs only it used are freed, and nothing that a
// remaining image (in this repository or another) needs is touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildImageLayout } from '../helpers/oci-layout.js';
import { CLI } from '../helpers/processes.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const started: RegistryProcess[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

async function gc(args: string[]): Promise<{ code: number; report?: Record<string, unknown>; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'gc', ...args]);
    return { code: 0, report: JSON.parse(stdout) as Record<string, unknown>, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

const blobFile = (storage: string, digest: string) => {
  const [algorithm, hex] = digest.split(':');
  return join(storage, 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
};

describe('registry garbage collection (ha-proxy gc)', () => {
  it('frees the blobs of a deleted image and keeps everything the other images use', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const registry = await startRegistryProcess({ registry: { deleteEnabled: true } });
    started.push(registry);
    const host = registry.url.replace('http://', '');
    const doomed = buildImageLayout({ layerSizes: [3000, 5000], tag: 'a' });
    const kept = buildImageLayout({ layerSizes: [7000], tag: 'b' });
    await skopeoCopy(`oci:${doomed.dir}:a`, `docker://${host}/gc/app:a`);
    await skopeoCopy(`oci:${kept.dir}:b`, `docker://${host}/gc/app:b`);
    await skopeoCopy(`oci:${kept.dir}:b`, `docker://${host}/gc/other:b`);
    const del = await fetch(`${registry.url}/v2/gc/app/manifests/${doomed.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    await registry.stop('SIGTERM');

    // Default minimum age (one hour): everything was written just now, so nothing goes.
    const young = await gc(['--storage', registry.storage]);
    assert.equal(young.code, 0, young.stderr);
    assert.equal(young.report?.blobsRemoved, 0);

    const dry = await gc(['--storage', registry.storage, '--dry-run', '--min-age-ms', '0']);
    // The doomed manifest, its config and its two layers; their three links in gc/app.
    assert.deepEqual([dry.report?.blobsRemoved, dry.report?.layerLinksRemoved], [4, 3]);
    for (const digest of doomed.blobs.keys()) assert.ok(existsSync(blobFile(registry.storage, digest)), `dry run kept ${digest}`);

    const real = await gc(['--storage', registry.storage, '--min-age-ms', '0']);
    assert.deepEqual([real.report?.blobsRemoved, real.report?.layerLinksRemoved], [4, 3]);
    assert.equal(real.report?.bytesFreed, [...doomed.blobs.values()].reduce((sum, b) => sum + b.length, 0));
    for (const digest of doomed.blobs.keys()) assert.equal(existsSync(blobFile(registry.storage, digest)), false, `${digest} freed`);
    for (const digest of kept.blobs.keys()) assert.ok(existsSync(blobFile(registry.storage, digest)), `${digest} kept`);
    const again = await gc(['--storage', registry.storage, '--min-age-ms', '0']);
    assert.deepEqual([again.report?.blobsRemoved, again.report?.layerLinksRemoved], [0, 0], 'a second run finds nothing');

    const restarted = await startRegistryProcess({ storage: registry.storage, registry: { deleteEnabled: true } });
    started.push(restarted);
    const host2 = restarted.url.replace('http://', '');
    assert.equal(await skopeoDigest(`docker://${host2}/gc/app:b`), kept.digest);
    assert.equal(await skopeoDigest(`docker://${host2}/gc/other:b`), kept.digest);
    const layer = [...doomed.blobs.keys()].find((d) => d !== doomed.digest)!;
    assert.equal((await fetch(`${restarted.url}/v2/gc/app/blobs/${layer}`, { method: 'HEAD' })).status, 404);
    // A full pull: every blob of the kept image is still served, byte for byte.
    const pulled = mkdtempSync(join(tmpdir(), 'gc-pull-'));
    await skopeoCopy(`docker://${host2}/gc/app:b`, `oci:${pulled}:b`);
    for (const [digest, bytes] of kept.blobs) {
      const file = join(pulled, 'blobs', 'sha256', digest.slice('sha256:'.length));
      assert.ok(readFileSync(file).equals(bytes), `${digest} pulled intact`);
    }
  });

  it('refuses a missing or bad --storage with exit code 2', async () => {
    const missing = await gc([]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--storage DIR is required/);
    const bad = await gc(['--storage', '/nonexistent/registry', '--min-age-ms', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no such directory/);
    const age = await gc(['--storage', '/tmp', '--min-age-ms', 'soon']);
    assert.equal(age.code, 2);
    assert.match(age.stderr, /--min-age-ms: must be a whole number/);
  });
});
