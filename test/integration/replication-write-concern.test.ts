import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { buildImageLayout, type Layout } from '../helpers/oci-layout.js';
import { pushLayoutBlobs, putLayoutManifest } from '../helpers/push-layout.js';
import { call, pushBlob } from '../helpers/registry-process.js';
import { eventually, registryState, startReplicaSet, type Replica } from '../helpers/replicas.js';

const started: Replica[] = [];
after(async () => {
  for (const r of started) r.child.kill('SIGCONT');
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

/** Uploads the layout's blobs and PUTs its manifest; returns the manifest response. */
async function push(base: string, repo: string, tag: string, layout: Layout): Promise<{ status: number; body: string }> {
  await pushLayoutBlobs(base, repo, layout);
  const res = await putLayoutManifest(base, repo, tag, layout);
  return { status: res.status, body: await res.text() };
}

async function metricValue(adminUrl: string, series: string): Promise<number> {
  const line = (await (await fetch(`${adminUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('replication write concern', () => {
  it('ack: majority fails the push with a clear OCI error without a majority, and passes with one', async () => {
    const [a, b, c] = await startReplicaSet(3, { replication: { ack: 'majority', pollIntervalMs: 0 } });
    started.push(a, b, c);
    await b.stop('SIGKILL');
    const withMajority = await push(a.url, 'wc/app', 'ok', buildImageLayout({ layerSizes: [100] }));
    assert.equal(withMajority.status, 201, withMajority.body);
    assert.equal((await registryState(c.url))['wc/app']?.ok !== undefined, true, 'the live peer holds it');

    await c.stop('SIGKILL');
    const without = await push(a.url, 'wc/app', 'lonely', buildImageLayout({ layerSizes: [100] }));
    assert.equal(without.status, 503);
    const error = (JSON.parse(without.body) as { errors: { code: string; message: string }[] }).errors[0];
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /ack: majority.*1 of 3 replicas hold the manifest, 2 required/);
  });

  it('ack: all copies an image with a foreign layer, which is never pushed anywhere, before answering', async () => {
    // Replication read foreign layers (with `urls`) as blobs to copy; not finding one here, it
    // took the manifest for deleted and dropped the copy, while the push was answered 201.
    const [a, b] = await startReplicaSet(2, { replication: { ack: 'all', pollIntervalMs: 0 } });
    started.push(a, b);
    const sha256 = (d: string) => `sha256:${createHash('sha256').update(d).digest('hex')}`;
    const dockerManifest = 'application/vnd.docker.distribution.manifest.v2+json';
    const config = await pushBlob(a.url, 'foreign/app', '{}');
    const layer = await pushBlob(a.url, 'foreign/app', 'layer bytes');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: dockerManifest,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 2 },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: sha256('a base layer'), size: 12, urls: ['https://example.invalid/base'] },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: 11 },
      ],
    });
    const res = await call(a.url, 'PUT', '/v2/foreign/app/manifests/v1', { body: manifest, headers: { 'content-type': dockerManifest } });
    assert.equal(res.status, 201, res.body.toString());
    assert.equal((await registryState(b.url))['foreign/app']?.v1, sha256(manifest), 'the peer holds the manifest once the push is answered');
  });

  it('ack: all drops a peer that stays silent for ackTimeoutMs, counts it, and repairs it later', async () => {
    const [a, b] = await startReplicaSet(2, { replication: { ack: 'all', ackTimeoutMs: 1000, pollIntervalMs: 0, retry: { initialDelayMs: 200, maxDelayMs: 500 } } });
    started.push(a, b);
    b.child.kill('SIGSTOP');
    const layout = buildImageLayout({ layerSizes: [100] });
    const res = await push(a.url, 'frozen/app', 'v1', layout);
    assert.equal(res.status, 201, res.body);
    assert.equal(await metricValue(a.adminUrl, `haproxy_replication_ack_dropped_total{peer="${b.url}"}`), 1);
    assert.equal(await metricValue(a.adminUrl, `haproxy_replication_queue_depth{peer="${b.url}"}`), 1);
    b.child.kill('SIGCONT');
    await eventually(async () => (await registryState(b.url))['frozen/app']?.v1 === layout.digest, async () => JSON.stringify(await registryState(b.url)));
    await eventually(async () => (await metricValue(a.adminUrl, `haproxy_replication_queue_depth{peer="${b.url}"}`)) === 0, () => 'queue not drained');
  });

  it('ack: all waits only briefly on a peer that missed its last ack, and takes it back once it answers', async () => {
    // The first push waits all of it on the frozen peer; a suspect one is waited on a fifth (1.2 s),
    // which leaves the second push a wide margin below it on a loaded machine.
    const ackTimeoutMs = 6000;
    const [a, b] = await startReplicaSet(2, { replication: { ack: 'all', ackTimeoutMs, pollIntervalMs: 0, retry: { initialDelayMs: 100, maxDelayMs: 200 } } });
    started.push(a, b);
    const peerUp = () => metricValue(a.adminUrl, `haproxy_replication_peer_up{peer="${b.url}"}`);
    const timedPush = async (tag: string) => {
      const layout = buildImageLayout({ layerSizes: [100 + tag.length] });
      const startedAt = Date.now();
      const res = await push(a.url, 'suspect/app', tag, layout);
      assert.equal(res.status, 201, res.body);
      return { ms: Date.now() - startedAt, layout };
    };

    // B freezes: the first ack waits out ackTimeoutMs, B is marked down and missed its ack.
    b.child.kill('SIGSTOP');
    await timedPush('first');
    // B resumes just long enough for the background probe to take it back, then freezes again.
    b.child.kill('SIGCONT');
    await eventually(async () => (await peerUp()) === 1, () => 'b not probed back up');
    b.child.kill('SIGSTOP');
    // Up again but suspect: this ack does not wait the full ackTimeoutMs on it.
    const second = await timedPush('second');
    assert.ok(second.ms < ackTimeoutMs, `the push waited ${second.ms} ms on a peer that missed its last ack`);

    // Once B answers again, an ack includes it: it holds the manifest when the push is acknowledged.
    b.child.kill('SIGCONT');
    await eventually(async () => (await peerUp()) === 1, () => 'b not probed back up');
    const third = await timedPush('third');
    assert.equal((await registryState(b.url))['suspect/app']?.third, third.layout.digest);
  });
});
