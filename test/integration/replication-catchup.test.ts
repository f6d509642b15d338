import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { buildImageLayout, buildIndexLayout } from '../helpers/oci-layout.js';
import { eventually, registryState, restartReplica, startReplicaSet, type Replica } from '../helpers/replicas.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const started: Replica[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

async function push(url: string, ref: string, layerSizes = [512, 2048]): Promise<string> {
  const layout = buildImageLayout({ layerSizes, tag: 't' });
  await skopeoCopy(`oci:${layout.dir}:t`, `docker://${url.replace('http://', '')}/${ref}`);
  return layout.digest;
}

async function del(url: string, repo: string, reference: string): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, { method: 'DELETE' });
  assert.equal(res.status, 202, `DELETE ${repo}:${reference}`);
}

async function states(a: Replica, b: Replica): Promise<string> {
  return `A=${JSON.stringify(await registryState(a.url))}\nB=${JSON.stringify(await registryState(b.url))}`;
}

describe('replication catch-up', () => {
  it('a replica stopped for a while catches up on pushes and deletes made meanwhile', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const [a, b] = await startReplicaSet(2, { replication: { pollIntervalMs: 1000 } });
    started.push(a, b);
    await push(a.url, 'app:v1');
    const goneDigest = await push(a.url, 'gone:1');
    assert.equal(Object.keys((await registryState(b.url)).app ?? {}).length, 1, 'ack all: B holds app:v1 when the push returns');

    await b.stop('SIGTERM');
    const v2 = await push(a.url, 'app:v2');
    const other = await push(a.url, 'other/x:latest');
    const index = buildIndexLayout({ tag: 'multi' });
    await skopeoCopy(`oci:${index.dir}:multi`, `docker://${a.url.replace('http://', '')}/other/x:multi`, ['--all']);
    await del(a.url, 'app', 'v1');
    await del(a.url, 'gone', goneDigest);

    const b2 = await restartReplica(b);
    started.push(b2);
    await eventually(
      async () => JSON.stringify(await registryState(a.url)) === JSON.stringify(await registryState(b2.url)),
      () => states(a, b2),
    );
    const stateB = await registryState(b2.url);
    assert.deepEqual(stateB.app, { v2 });
    assert.deepEqual(stateB['other/x'], { latest: other, multi: index.digest });
    for (const child of (JSON.parse(index.blobs.get(index.digest)!.toString()) as { manifests: { digest: string }[] }).manifests) {
      const res = await fetch(`${b2.url}/v2/other/x/manifests/${child.digest}`, { method: 'HEAD', headers: { 'x-ha-proxy-replication': 'test' } });
      assert.equal(res.status, 200, `index child ${child.digest} replicated (not fetched on demand)`);
    }
    assert.equal(stateB.gone, undefined);
    const head = await fetch(`${b2.url}/v2/gone/manifests/${goneDigest}`, { method: 'HEAD' });
    assert.equal(head.status, 404, 'the manifest deleted by digest is gone on the replica that was down');
  });

  it('a replica that lost its storage gets images and their referrers back from anti-entropy', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const [a, b] = await startReplicaSet(2, { replication: { pollIntervalMs: 1000 } });
    started.push(a, b);
    const image = await push(a.url, 'signed:v1');
    // A signature-like artifact: pushed by digest with the image as its subject, no tag.
    const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const config = Buffer.from('{}');
    const payload = Buffer.from('signature payload');
    for (const blob of [config, payload]) {
      const res = await fetch(`${a.url}/v2/signed/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(res.status, 201);
    }
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/octet-stream', digest: sha(payload), size: payload.length }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image, size: 1 },
    }));
    const put = await fetch(`${a.url}/v2/signed/manifests/${sha(artifact)}`, { method: 'PUT', body: artifact, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201);

    await b.stop('SIGKILL');
    rmSync(b.storage, { recursive: true, force: true });
    mkdirSync(b.storage);
    const b2 = await restartReplica(b);
    started.push(b2);
    // The replication header keeps B from fetching on demand: only a real repair makes these 200.
    const onB = async (path: string) => (await fetch(`${b2.url}${path}`, { method: 'HEAD', headers: { 'x-ha-proxy-replication': 'test' } })).status;
    await eventually(
      async () => (await onB(`/v2/signed/manifests/v1`)) === 200 && (await onB(`/v2/signed/manifests/${sha(artifact)}`)) === 200,
      async () => `B: tag ${await onB('/v2/signed/manifests/v1')}, referrer ${await onB(`/v2/signed/manifests/${sha(artifact)}`)}`,
    );
    const referrers = (await (await fetch(`${b2.url}/v2/signed/referrers/${image}`)).json()) as { manifests: { digest: string; artifactType?: string }[] };
    assert.deepEqual(referrers.manifests.map((m) => [m.digest, m.artifactType]), [[sha(artifact), 'application/vnd.example.signature']]);
  });

  it('the queue survives a SIGKILL of the replica that owes the copy (anti-entropy off)', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const [a, b] = await startReplicaSet(2, { replication: { pollIntervalMs: 0 } });
    started.push(a, b);
    await b.stop('SIGTERM');
    const digest = await push(a.url, 'queued:1');
    await a.stop('SIGKILL');
    const b2 = await restartReplica(b);
    const a2 = await restartReplica(a);
    started.push(a2, b2);
    await eventually(
      async () => (await registryState(b2.url)).queued?.['1'] === digest,
      () => states(a2, b2),
    );
  });
});
