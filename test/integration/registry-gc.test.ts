// `ha-proxy gc`: after a manifest delete, the blobs only it used are freed, and nothing that a
// remaining image (in this repository or another) needs is touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildImageLayout } from '../helpers/oci-layout.js';
import { CLI } from '../helpers/processes.js';
import { startRegistryProcess, type RegistryProcess, type RegistryProcessOptions } from '../helpers/registry-process.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { storagesUnderTest } from '../helpers/storage-under-test.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const started: RegistryProcess[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

async function gc(args: string[], env: Record<string, string> = {}): Promise<{ code: number; report?: Record<string, unknown>; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'gc', ...args], { env: { ...process.env, ...env } });
    return { code: 0, report: JSON.parse(stdout) as Record<string, unknown>, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

/** Where a blob's bytes lie below `blobs/`. */
const blobKey = (digest: string) => {
  const [algorithm, hex] = digest.split(':');
  return `${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
};

// Once per storage driver: mark, then sweep by listing, on a directory and on a bucket.
for (const storage of storagesUnderTest()) describe(`registry garbage collection (ha-proxy gc, ${storage.name})`, { skip: storage.skip }, () => {
  it('frees the blobs of a deleted image and keeps everything the other images use', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const options: RegistryProcessOptions = { ...(await storage.options()), registry: { deleteEnabled: true } };
    const registry = await startRegistryProcess(options);
    started.push(registry);
    const stored = async () => new Set(await storage.files(registry, options, 'blobs'));
    const host = registry.url.replace('http://', '');
    const doomed = buildImageLayout({ layerSizes: [3000, 5000], tag: 'a' });
    const kept = buildImageLayout({ layerSizes: [7000], tag: 'b' });
    await skopeoCopy(`oci:${doomed.dir}:a`, `docker://${host}/gc/app:a`);
    await skopeoCopy(`oci:${kept.dir}:b`, `docker://${host}/gc/app:b`);
    await skopeoCopy(`oci:${kept.dir}:b`, `docker://${host}/gc/other:b`);
    const del = await fetch(`${registry.url}/v2/gc/app/manifests/${doomed.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    await registry.stop('SIGTERM');
    const target = storage.gcTarget(registry, options);

    // Default minimum age (one hour): everything was written just now, so nothing goes.
    const young = await gc(target.args, target.env);
    assert.equal(young.code, 0, young.stderr);
    assert.equal(young.report?.blobsRemoved, 0);

    const dry = await gc([...target.args, '--dry-run', '--min-age-ms', '0'], target.env);
    // The doomed manifest, its config and its two layers; their three links in gc/app.
    assert.deepEqual([dry.report?.blobsRemoved, dry.report?.layerLinksRemoved], [4, 3]);
    const beforeSweep = await stored();
    for (const digest of doomed.blobs.keys()) assert.ok(beforeSweep.has(blobKey(digest)), `dry run kept ${digest}`);

    const real = await gc([...target.args, '--min-age-ms', '0'], target.env);
    assert.deepEqual([real.report?.blobsRemoved, real.report?.layerLinksRemoved], [4, 3]);
    assert.equal(real.report?.bytesFreed, [...doomed.blobs.values()].reduce((sum, b) => sum + b.length, 0));
    const afterSweep = await stored();
    for (const digest of doomed.blobs.keys()) assert.equal(afterSweep.has(blobKey(digest)), false, `${digest} freed`);
    for (const digest of kept.blobs.keys()) assert.ok(afterSweep.has(blobKey(digest)), `${digest} kept`);
    const again = await gc([...target.args, '--min-age-ms', '0'], target.env);
    assert.deepEqual([again.report?.blobsRemoved, again.report?.layerLinksRemoved], [0, 0], 'a second run finds nothing');

    const restarted = await startRegistryProcess({ ...options, storage: registry.storage || undefined });
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
});

describe('registry garbage collection: arguments', () => {
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
