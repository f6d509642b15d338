import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { buildImageLayout, buildIndexLayout } from '../helpers/oci-layout.js';
import { startReplica, type Replica } from '../helpers/replicas.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const started: (Replica | DockerRegistry)[] = [];
after(async () => {
  await Promise.all(started.map((p) => p.stop('SIGKILL')));
});

describe('replication to a registry that is not ha-proxy', () => {
  it("copies pushes to Debian's docker-registry through its OCI API, and fetches from it on demand", async (t) => {
    if (!requireTool(t, 'skopeo') || !requireTool(t, 'docker-registry')) return;
    const distribution = await startDockerRegistry();
    started.push(distribution);
    const replica = await startReplica({ peers: [distribution.url], replication: { ack: 'all', pollIntervalMs: 0 } });
    started.push(replica);

    const image = buildImageLayout({ layerSizes: [1024, 16 * 1024], tag: 'v1' });
    await skopeoCopy(`oci:${image.dir}:v1`, `docker://127.0.0.1:${replica.port}/foreign/app:v1`);
    assert.equal(await skopeoDigest(`docker://127.0.0.1:${distribution.port}/foreign/app:v1`), image.digest, 'held by docker-registry when the push returned');
    const index = buildIndexLayout({ tag: 'multi' });
    await skopeoCopy(`oci:${index.dir}:multi`, `docker://127.0.0.1:${replica.port}/foreign/app:multi`, ['--all']);
    assert.equal(await skopeoDigest(`docker://127.0.0.1:${distribution.port}/foreign/app:multi`), index.digest);

    const elsewhere = buildImageLayout({ layerSizes: [2048], tag: 'v2' });
    await skopeoCopy(`oci:${elsewhere.dir}:v2`, `docker://127.0.0.1:${distribution.port}/foreign/other:v2`);
    assert.equal(await skopeoDigest(`docker://127.0.0.1:${replica.port}/foreign/other:v2`), elsewhere.digest, 'fetched on demand');
  });
});
