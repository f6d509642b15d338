// A push that spans a failover: its blobs went to the old active replica (A), which then froze,
// so the proxy moved the client to B; A resumed before the manifest PUT reached B. B still
// marks A down (its last copy to A timed out, its next probe is not due yet), yet the manifest
// PUT must find the blobs on A instead of failing with MANIFEST_BLOB_UNKNOWN.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildImageLayout } from '../helpers/oci-layout.js';
import { pushLayoutBlobs, putLayoutManifest } from '../helpers/push-layout.js';
import { eventually, startReplica, type Replica } from '../helpers/replicas.js';
import { waitForHttp } from '../helpers/processes.js';

const started: Replica[] = [];
after(async () => {
  for (const r of started) {
    try {
      process.kill(r.child.pid!, 'SIGCONT');
    } catch {
      // already gone
    }
    await r.stop('SIGKILL');
  }
});

async function peerUp(replica: Replica, peer: string): Promise<number | undefined> {
  const text = await (await fetch(`${replica.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('haproxy_replication_peer_up{') && l.includes(`peer="${peer}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a push that spans a failover', { timeout: 120_000 }, () => {
  it('gets 201 on the standby although the blobs are only on a peer it still marks down', async () => {
    // A replicates to nobody: what is pushed to it stays there, as when B was unreachable.
    const a = await startReplica();
    // B's probes of a down peer wait a minute: A stays marked down for the whole test.
    const b = await startReplica({ peers: [a.url], replication: { ackTimeoutMs: 1000, pollIntervalMs: 0, retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 } } });
    started.push(a, b);

    const spanning = buildImageLayout({ layerSizes: [4096, 1024], tag: 'v1' });
    await pushLayoutBlobs(a.url, 'span/app', spanning);

    // A freezes; a push to B waits out its ack to A and marks A down.
    process.kill(a.child.pid!, 'SIGSTOP');
    const other = buildImageLayout({ layerSizes: [512], tag: 'v1' });
    await pushLayoutBlobs(b.url, 'span/other', other);
    assert.equal((await putLayoutManifest(b.url, 'span/other', 'v1', other)).status, 201);
    await eventually(async () => (await peerUp(b, a.url)) === 0, async () => `peer_up ${await peerUp(b, a.url)}`, 20_000);

    // A resumes; the client, failed over to B, finishes its push there.
    process.kill(a.child.pid!, 'SIGCONT');
    await waitForHttp(`${a.url}/v2/`, { statuses: [200] });
    assert.equal(await peerUp(b, a.url), 0, 'B still marks A down when the manifest arrives');
    const res = await putLayoutManifest(b.url, 'span/app', 'v1', spanning);
    assert.equal(res.status, 201, await res.text());
    for (const [digest, data] of spanning.blobs) {
      if (digest === spanning.digest) continue;
      // Marked as a peer's request: B answers from its own storage, fetching nothing.
      const blob = await fetch(`${b.url}/v2/span/app/blobs/${digest}`, { headers: { 'x-ha-proxy-replication': 'test' } });
      assert.equal(blob.status, 200, `B holds ${digest} itself`);
      assert.deepEqual(Buffer.from(await blob.arrayBuffer()), data);
    }
  });
});
