// The registry's storage layer on S3 beside the filesystem, in-process (ImageStore on each driver:
// the code the upload, blob and manifest handlers call), in alternating rounds. The registry
// process itself is not started on S3 here: `registry.s3` configuration comes separately.
// S3 is Ceph's RADOS Gateway from scripts/s3-dev.sh (one OSD on memstore, all on 127.0.0.1).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest, type Digest } from '../src/oci/digest.js';
import { FsDriver } from '../src/registry/storage/fs-driver.js';
import { ImageStore } from '../src/registry/storage/image-store.js';
import { S3Client } from '../src/registry/storage/s3-client.js';
import { S3Driver } from '../src/registry/storage/s3-driver.js';
import { startS3Server } from '../test/helpers/s3-server.js';

const MiB = 1024 * 1024;
const CHUNK_MIB = 16;

export interface StorageBenchOptions {
  rounds: number;
  blobMib: number;
  seconds: number;
  concurrency: number;
  scratch: string;
  log: (line: string) => void;
}

interface StorageSeries {
  upOne: number[];
  upChunked: number[];
  commitMs: number[];
  down: number[];
  manifest: number[];
}

const BASE = randomBytes(MiB);

/** MiB `i` of round `round`'s blob: distinct bytes, so no round finds the previous one's blob. */
function mibOf(round: number, i: number): Buffer {
  const b = Buffer.from(BASE);
  b.writeUInt32LE(i, 0);
  b.writeUInt32LE(round, 4);
  return b;
}

function* blobRange(round: number, from: number, to: number): Generator<Buffer> {
  for (let i = from; i < to; i++) yield mibOf(round, i);
}

function digestOf(round: number, mib: number): Digest {
  const h = createHash('sha256');
  for (const b of blobRange(round, 0, mib)) h.update(b);
  return parseDigest(`sha256:${h.digest('hex')}`)!;
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** One round on one store: both upload shapes, a download, then manifest GETs by tag. */
async function round(store: ImageStore, r: number, o: StorageBenchOptions, s: StorageSeries): Promise<void> {
  const bytes = o.blobMib * MiB;
  const one = digestOf(2 * r, o.blobMib);
  let t = performance.now();
  const a = await store.uploads.create('bench/one');
  await store.uploads.commit('bench/one', a.id, one, Readable.from(blobRange(2 * r, 0, o.blobMib)));
  s.upOne.push(mbps(bytes, performance.now() - t));

  const chunked = digestOf(2 * r + 1, o.blobMib);
  t = performance.now();
  const b = await store.uploads.create('bench/chunked');
  for (let from = 0; from < o.blobMib; from += CHUNK_MIB) {
    const to = Math.min(o.blobMib, from + CHUNK_MIB);
    await store.uploads.append('bench/chunked', b.id, Readable.from(blobRange(2 * r + 1, from, to)), { start: from * MiB, length: (to - from) * MiB });
  }
  const c = performance.now();
  await store.uploads.commit('bench/chunked', b.id, chunked);
  s.commitMs.push(performance.now() - c);
  s.upChunked.push(mbps(bytes, performance.now() - t));

  t = performance.now();
  await pipeline(await store.blobs.read('bench/one', one), new Writable({ write: (_c, _e, cb) => cb() }));
  s.down.push(mbps(bytes, performance.now() - t));

  s.manifest.push(await manifestGets(store, o));
  await store.driver.delete('blobs');
  await store.driver.delete('repositories/bench/one');
  await store.driver.delete('repositories/bench/chunked');
}

/** Tag resolution + manifest read with no cache (each GET reaches storage), `concurrency` at once. */
async function manifestGets(store: ImageStore, o: StorageBenchOptions): Promise<number> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
  const digest = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`)!;
  await store.manifests.put('bench/small', { bytes, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: 'v1' });
  const deadline = performance.now() + o.seconds * 1000;
  let n = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const d = await store.manifests.resolveTag('bench/small', 'v1');
        if (!d || !(await store.manifests.get('bench/small', d))) throw new Error('manifest vanished');
        n++;
      }
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the rounds and returns the markdown table. */
export async function storageBench(o: StorageBenchOptions): Promise<string> {
  const s3 = await startS3Server();
  const dir = mkdtempSync(join(o.scratch, 'storage-bench-'));
  try {
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket }, () => s3);
    const stores = [
      { name: 'filesystem', store: new ImageStore(new FsDriver(dir), { cacheTtlMs: 0 }) },
      { name: 'S3 (radosgw)', store: new ImageStore(new S3Driver(client, 'bench/'), { cacheTtlMs: 0 }) },
    ];
    const series = stores.map(() => ({ upOne: [], upChunked: [], commitMs: [], down: [], manifest: [] }) as StorageSeries);
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        await round(stores[i].store, r, o, series[i]);
        const x = series[i];
        o.log(`storage round ${r + 1} ${stores[i].name}: up ${x.upOne.at(-1)!.toFixed(0)} MB/s, chunked up ${x.upChunked.at(-1)!.toFixed(0)} MB/s (commit ${x.commitMs.at(-1)!.toFixed(0)} ms), down ${x.down.at(-1)!.toFixed(0)} MB/s, manifest GET ${x.manifest.at(-1)!.toFixed(0)}/s`);
      }
    }
    const row = (label: string, pick: (x: StorageSeries) => number[], unit: string) => `| ${label} | ${series.map((x) => `${median(pick(x)).toFixed(0)} ${unit}`).join(' | ')} |`;
    return [
      `| storage layer, medians of ${o.rounds} rounds (${o.blobMib} MiB blob, ${o.concurrency} concurrent, ${o.seconds} s) | ${stores.map((x) => x.name).join(' | ')} |`,
      '|---|---|---|',
      row('blob upload, one request (create + commit with the body)', (x) => x.upOne, 'MB/s'),
      row(`blob upload, ${CHUNK_MIB} MiB chunks (create + appends + commit)`, (x) => x.upChunked, 'MB/s'),
      row('commit of the chunked upload (digest from memory, move into place)', (x) => x.commitMs, 'ms'),
      row('blob download (whole stream)', (x) => x.down, 'MB/s'),
      row('manifest GET by tag, no cache (tag link + revision link + bytes)', (x) => x.manifest, 'req/s'),
    ].join('\n');
  } finally {
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
