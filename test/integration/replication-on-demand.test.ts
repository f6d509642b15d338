import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { buildImageLayout } from '../helpers/oci-layout.js';
import { startReplica, startReplicaSet, type Replica } from '../helpers/replicas.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const started: Replica[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

async function metricValue(adminUrl: string, series: string): Promise<number> {
  const line = (await (await fetch(`${adminUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('on-demand fetch', () => {
  it('fetches a missing manifest and blob from a peer once for identical concurrent requests, verified', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    // B replicates to nobody, so what is pushed to B reaches A only on demand.
    const b = await startReplica();
    const a = await startReplica({ peers: [b.url], replication: { pollIntervalMs: 0 } });
    started.push(a, b);
    const layout = buildImageLayout({ layerSizes: [2048, 8192], tag: 'v1' });
    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://127.0.0.1:${b.port}/od/app:v1`);

    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await fetch(`${a.url}/v2/od/app/manifests/v1`, { headers: { accept: ACCEPT } });
        return { status: res.status, digest: `sha256:${createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')}` };
      }),
    );
    for (const answer of answers) assert.deepEqual(answer, { status: 200, digest: layout.digest });
    assert.equal(await metricValue(a.adminUrl, 'haproxy_replication_on_demand_fetches_total{kind="manifest",result="fetched"}'), 1);

    // The blobs came with the manifest: A now serves them itself.
    for (const [digest, data] of layout.blobs) {
      if (digest === layout.digest) continue;
      const res = await fetch(`${a.url}/v2/od/app/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
    }

    // A blob pushed to B alone, requested from A by several clients at once.
    const blob = Buffer.from('on-demand blob '.repeat(1000));
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const start = await fetch(`${b.url}/v2/od/blob/blobs/uploads/`, { method: 'POST' });
    const location = new URL(start.headers.get('location')!, b.url);
    location.searchParams.set('digest', digest);
    assert.equal((await fetch(location, { method: 'PUT', body: blob })).status, 201);
    const bodies = await Promise.all(Array.from({ length: 5 }, async () => Buffer.from(await (await fetch(`${a.url}/v2/od/blob/blobs/${digest}`)).arrayBuffer())));
    for (const body of bodies) assert.deepEqual(body, blob);
    assert.equal(await metricValue(a.adminUrl, 'haproxy_replication_on_demand_fetches_total{kind="blob",result="fetched"}'), 1);
  });

  it('two replicas that both lack an object answer 404 without asking each other in a circle', async () => {
    const [a, b] = await startReplicaSet(2, { replication: { pollIntervalMs: 0 } });
    started.push(a, b);
    const missing = `sha256:${'0'.repeat(64)}`;
    const res = await fetch(`${a.url}/v2/nowhere/app/blobs/${missing}`);
    assert.equal(res.status, 404);
    const manifest = await fetch(`${a.url}/v2/nowhere/app/manifests/latest`, { headers: { accept: ACCEPT } });
    assert.equal(manifest.status, 404);
    // A asked B; B, seeing replication traffic, did not ask A back.
    assert.equal(await metricValue(a.adminUrl, 'haproxy_replication_on_demand_fetches_total{kind="blob",result="absent"}'), 1);
    assert.equal(await metricValue(b.adminUrl, 'haproxy_replication_on_demand_fetches_total{kind="blob",result="absent"}'), 0);
  });
});
