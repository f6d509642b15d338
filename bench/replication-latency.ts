// How long replication takes for a 100 MiB image between two built-in replicas on this machine:
//   ack: all  -> the manifest PUT itself waits for the copy: its duration minus ack: one's
//   ack: one  -> from the 201 of the manifest PUT until the peer serves the manifest
// Run once: `npx tsc -p . && node dist/bench/replication-latency.js` (not a test: no timing asserts).
import { REPLICATION_HEADER } from '../src/oci/replication-headers.js';
import { buildImageLayout, type Layout } from '../test/helpers/oci-layout.js';
import { pushLayoutBlobs, putLayoutManifest } from '../test/helpers/push-layout.js';
import { startReplicaSet } from '../test/helpers/replicas.js';

const SIZE = 100 * 1024 * 1024;

async function putManifest(base: string, repo: string, layout: Layout): Promise<number> {
  const t0 = performance.now();
  const res = await putLayoutManifest(base, repo, 'v1', layout);
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`manifest: ${res.status}`);
  return performance.now() - t0;
}

async function untilPresent(url: string): Promise<void> {
  for (;;) {
    // Marked as replication traffic so the peer does not fetch the image on demand itself.
    const res = await fetch(url, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json', [REPLICATION_HEADER]: 'bench' } });
    if (res.status === 200) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(ack: 'all' | 'one', layerSizes: number[]): Promise<{ pushMs: number; manifestPutMs: number; ackToPeerMs: number }> {
  const [a, b] = await startReplicaSet(2, { replication: { ack, pollIntervalMs: 0, ackTimeoutMs: 30_000 } });
  try {
    const layout = buildImageLayout({ layerSizes, tag: 'v1' });
    const t0 = performance.now();
    await pushLayoutBlobs(a.url, 'big/app', layout);
    const manifestPutMs = await putManifest(a.url, 'big/app', layout);
    const acked = performance.now();
    await untilPresent(`${b.url}/v2/big/app/manifests/v1`);
    return { pushMs: acked - t0, manifestPutMs, ackToPeerMs: performance.now() - acked };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

const quarter = SIZE / 4;
const rows: [string, Awaited<ReturnType<typeof run>>][] = [
  ['ack: all, 1 x 100 MiB', await run('all', [SIZE])],
  ['ack: one, 1 x 100 MiB', await run('one', [SIZE])],
  ['ack: all, 4 x 25 MiB', await run('all', [quarter, quarter, quarter, quarter])],
];
console.log('100 MiB image, two replicas on loopback; blobs pushed one after another, then the manifest');
console.log('| case | whole push (ms) | manifest PUT (ms) | push acknowledged -> present on peer (ms) |');
console.log('|---|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.pushMs.toFixed(0)} | ${r.manifestPutMs.toFixed(0)} | ${r.ackToPeerMs.toFixed(0)} |`);
process.exit(0);
