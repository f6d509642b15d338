import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildImageLayout, type Layout } from '../helpers/oci-layout.js';
import { pushLayoutBlobs, putLayoutManifest } from '../helpers/push-layout.js';
import { waitForHttp, type Managed } from '../helpers/processes.js';
import { startProxy } from '../helpers/proxy-process.js';
import { eventually, restartReplica, startReplicaSet } from '../helpers/replicas.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const ROUNDS = 20;
const cleanup: Managed[] = [];
after(async () => {
  await Promise.all(cleanup.map((p) => p.stop('SIGKILL')));
});

/** Pushes a layout through `base` with plain HTTP; calls `onManifestAck` the instant the manifest PUT answers 201. */
async function push(base: string, repo: string, tag: string, layout: Layout, onManifestAck: () => void): Promise<void> {
  await pushLayoutBlobs(base, repo, layout);
  const res = await putLayoutManifest(base, repo, tag, layout);
  if (res.status === 201) onManifestAck();
  const text = await res.text();
  assert.equal(res.status, 201, text);
}

async function metric(adminUrl: string, line: string): Promise<boolean> {
  try {
    return (await (await fetch(`${adminUrl}/metrics`)).text()).split('\n').includes(line);
  } catch {
    return false;
  }
}

describe('ack: all', () => {
  it(`an acknowledged push survives a SIGKILL of the active replica the moment the PUT returns (${ROUNDS} rounds)`, async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const replicas = await startReplicaSet(2, { replication: { ack: 'all', pollIntervalMs: 0 } });
    cleanup.push(...replicas);
    const proxy = await startProxy(
      {
        mode: 'active-standby',
        backends: replicas.map((r, i) => ({ name: `r${i}`, url: r.url })),
        healthCheck: { intervalMs: 200, fastIntervalMs: 100, downIntervalMs: 200, timeoutMs: 500, rise: 1, fall: 1, jitter: 0.1 },
        failback: { mode: 'manual' },
      },
      { logLevel: 'warn' },
    );
    cleanup.push(proxy);
    const base = proxy.url;
    const admin = proxy.adminUrl;
    await waitForHttp(`${base}/v2/`, { proc: proxy, statuses: [200], timeoutMs: 30_000 });

    const current = [...replicas];
    for (let round = 0; round < ROUNDS; round++) {
      // Both replicas up in the proxy, and each sees the other (so the ack waits for it).
      await eventually(
        async () => {
          const status = (await (await fetch(`${admin}/status`)).json()) as { active: string | null; backends: { name: string; up: boolean }[] };
          if (!status.backends.every((b) => b.up) || status.active === null) return false;
          const checks = await Promise.all(current.map((r, i) => metric(r.adminUrl, `haproxy_replication_peer_up{peer="${current[1 - i].url}"} 1`)));
          return checks.every(Boolean);
        },
        () => `round ${round}: replicas not all up`,
      );
      const status = (await (await fetch(`${admin}/status`)).json()) as { active: string };
      const activeIndex = Number(status.active.slice(1));
      const active = current[activeIndex];

      const layout = buildImageLayout({ layerSizes: [300, 700], tag: 'v' });
      const repo = `loop/img${round}`;
      await push(base, repo, 'v', layout, () => active.child.kill('SIGKILL'));

      const out = mkdtempSync(join(tmpdir(), 'ack-pull-'));
      await skopeoCopy(`docker://127.0.0.1:${proxy.port}/${repo}:v`, `oci:${out}:v`);
      assert.equal(await skopeoDigest(`docker://127.0.0.1:${proxy.port}/${repo}:v`), layout.digest, `round ${round}: same manifest`);
      for (const [digest, data] of layout.blobs) {
        assert.deepEqual(readFileSync(join(out, 'blobs', 'sha256', digest.slice(7))), data, `round ${round}: ${digest} byte-identical`);
      }
      const restarted = await restartReplica(active);
      cleanup.push(restarted);
      current[activeIndex] = restarted;
    }
  });
});
