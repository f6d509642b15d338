// The same guarantees with the built-in registry (`--mode registry`) as the backends: separate
// storage, no replication configured, so content must land on exactly one replica.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rendezvousOwner } from '../../src/proxy/routing/rendezvous.js';
import { hasManifest, PushClient, pushImage, sha256 } from '../helpers/chunked-push.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { startRoutingProxy, type RunningProxy } from '../helpers/routing-cluster.js';

const NAMES = ['b1', 'b2', 'b3'];
const homeOf = (repo: string) => rendezvousOwner(NAMES.map((name) => ({ name, weight: 1 })), repo)!.name;

describe('routing: built-in registry replicas without shared storage', { timeout: 120_000 }, () => {
  const replicas: RegistryProcess[] = [];
  const proxies: RunningProxy[] = [];

  before(async () => {
    for (let i = 0; i < NAMES.length; i++) replicas.push(await startRegistryProcess());
    const spec = { backends: NAMES.map((name, i) => ({ name, url: replicas[i].url })) };
    proxies.push(await startRoutingProxy(spec), await startRoutingProxy(spec));
  });

  after(async () => {
    for (const p of proxies) await p.stop();
    for (const r of replicas) await r.stop();
  });

  it('completes concurrent chunked pushes through two alternating proxies, each on its home only', async () => {
    let turn = 0;
    const client = new PushClient({ base: () => proxies[turn++ % 2].url });
    const repos = Array.from({ length: 12 }, (_, i) => `builtin/app-${i}`);
    const images = await Promise.all(repos.map((repo) => pushImage(client, repo, 'v1', { layerBytes: 24 * 1024, chunkBytes: 8 * 1024 })));
    for (const image of images) {
      const where: string[] = [];
      for (let i = 0; i < NAMES.length; i++) if (await hasManifest(replicas[i].url, image.repository, 'v1')) where.push(NAMES[i]);
      assert.deepEqual(where, [homeOf(image.repository)], image.repository);
      const blob = await fetch(`${proxies[1].url}/v2/${image.repository}/blobs/${image.blobs[0]}`);
      assert.equal(blob.status, 200);
      assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), image.blobs[0]);
    }
  });
});
