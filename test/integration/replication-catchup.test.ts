import assert from 'node:assert/strict';
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
