import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildImageLayout } from '../helpers/oci-layout.js';
import { eventually, registryState, startReplicaSet, type Replica } from '../helpers/replicas.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const started: Replica[] = [];
after(async () => {
  await Promise.all(started.map((r) => r.stop('SIGKILL')));
});

async function push(url: string, ref: string): Promise<string> {
  const layout = buildImageLayout({ layerSizes: [256, 1024], tag: 't' });
  await skopeoCopy(`oci:${layout.dir}:t`, `docker://${url.replace('http://', '')}/${ref}`);
  return layout.digest;
}

function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('active/active replication', () => {
  it('concurrent pushes to both replicas converge to identical catalogs, tags and digests', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const [a, b] = await startReplicaSet(2, { replication: { pollIntervalMs: 1000 } });
    started.push(a, b);
    // Distinct repositories on each side, and the same tags pushed to both sides at once.
    const pushes: Promise<[string, string]>[] = [];
    for (const [side, url] of [['a', a.url], ['b', b.url]] as const) {
      pushes.push(push(url, `side-${side}/app:1`).then((d) => [`side-${side}/app:1`, d]));
      for (const tag of ['t1', 't2']) pushes.push(push(url, `shared/app:${tag}`).then((d) => [`${side} shared/app:${tag}`, d]));
    }
    const pushed = new Map(await Promise.all(pushes));

    await eventually(
      async () => JSON.stringify(await registryState(a.url)) === JSON.stringify(await registryState(b.url)),
      async () => `A=${JSON.stringify(await registryState(a.url))}\nB=${JSON.stringify(await registryState(b.url))}`,
    );
    const state = await registryState(a.url);
    assert.deepEqual(Object.keys(state).sort(), ['shared/app', 'side-a/app', 'side-b/app']);
    assert.equal(state['side-a/app']['1'], pushed.get('side-a/app:1'));
    assert.equal(state['side-b/app']['1'], pushed.get('side-b/app:1'));
    for (const tag of ['t1', 't2']) {
      const candidates = [pushed.get(`a shared/app:${tag}`), pushed.get(`b shared/app:${tag}`)];
      assert.ok(candidates.includes(state['shared/app'][tag]), `shared/app:${tag} resolves to one of the pushed images`);
    }
    // Converged state is stable: further anti-entropy rounds copy nothing (no replication loop).
    // Once both queues are empty, each completed round moves the peer's last-success time; two
    // rounds on each side, with their repairs (if any) drained, must not have copied anything.
    const sample = () =>
      Promise.all(
        [a, b].map(async (r) => {
          const text = await (await fetch(`${r.adminUrl}/metrics`)).text();
          return {
            copied: metricSum(text, 'haproxy_replication_objects_total'),
            queued: metricSum(text, 'haproxy_replication_queue_depth'),
            lastRound: metricSum(text, 'haproxy_replication_last_success_timestamp_seconds'),
          };
        }),
      );
    await eventually(async () => (await sample()).every((s) => s.queued === 0), async () => JSON.stringify(await sample()));
    const before = await sample();
    for (let round = 1; round <= 2; round++) {
      const start = await sample();
      await eventually(
        async () => (await sample()).every((s, i) => s.lastRound > start[i].lastRound && s.queued === 0),
        async () => `round ${round}: ${JSON.stringify(start)} -> ${JSON.stringify(await sample())}`,
      );
    }
    assert.deepEqual((await sample()).map((s) => s.copied), before.map((s) => s.copied));
    assert.deepEqual(await registryState(b.url), state);
    assert.deepEqual(await registryState(a.url), state);
  });
});
