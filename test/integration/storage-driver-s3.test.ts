// The storage driver contract (the suite the filesystem driver passes) against the S3 driver on
// a real S3 server: Ceph's RADOS Gateway from scripts/s3-dev.sh. Then what only S3 shows: how
// an upload session's chunks become parts of one multipart upload, and how the purge finds the
// uploads no session leads to.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateEpoch } from '../../src/registry/replication/replica-epoch.js';
import { StampStore } from '../../src/registry/replication/stamp-store.js';
import { WorkQueue, type Task } from '../../src/registry/replication/work-queue.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';
import { storagePath } from '../../src/registry/storage/paths.js';
import { S3Client } from '../../src/registry/storage/s3-client.js';
import { S3Driver } from '../../src/registry/storage/s3-driver.js';
import { driverContract } from '../helpers/driver-contract.js';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;

describe('storage driver contract: S3 (radosgw)', { skip: s3Skip() }, () => {
  let s3: S3Server;
  let client: S3Client;
  before(async () => {
    s3 = await startS3Server();
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket }, () => s3);
  });
  after(async () => {
    await s3?.stop();
  });

  // Each test gets its own key prefix: empty storage without a new bucket.
  const prefixes = new Map<S3Driver, string>();
  const make = () => {
    const prefix = `t-${randomUUID()}/`;
    const driver = new S3Driver(client, prefix);
    prefixes.set(driver, prefix);
    return driver;
  };
  /** A second driver with its own client (connections) on the same prefix: another replica. */
  const sibling = (d: S3Driver) => {
    const other = new S3Driver(new S3Client(client.location, () => s3), prefixes.get(d)!);
    prefixes.set(other, prefixes.get(d)!);
    return other;
  };
  driverContract({
    make,
    sibling: (d) => sibling(d as S3Driver),
    spec: (d) => ({ kind: 's3', ...client.location, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, prefix: prefixes.get(d as S3Driver)! }),
    leftovers: (d) => client.listMultipart(prefixes.get(d as S3Driver)!),
  });

  it('appends each chunk as new parts of one multipart upload, staging chunks under 5 MiB in the bucket', async () => {
    const d = make();
    const e = sibling(d);
    const key = `${prefixes.get(d)}u/data`;
    let size = 0;
    const chunks: Buffer[] = [];
    const appendFrom = async (driver: S3Driver, bytes: number) => {
      const c = randomBytes(bytes);
      chunks.push(c);
      const w = await driver.appendWriter('u/data', { offset: size });
      w.stream.end(c);
      await w.commit();
      size += bytes;
    };
    await appendFrom(d, MiB);
    await appendFrom(e, 2 * MiB);
    // 3 MiB so far: staged, no multipart upload yet.
    assert.deepEqual(await client.listMultipartUploads(key), []);
    await appendFrom(d, 3 * MiB);
    await appendFrom(e, 6 * MiB);
    await appendFrom(d, 6 * MiB);
    const uploads = await client.listMultipartUploads(key);
    assert.equal(uploads.length, 1, 'one multipart upload for the whole session');
    // Each chunk became its own part: nothing written before was copied again.
    assert.deepEqual((await client.listParts(key, uploads[0].uploadId)).map((p) => p.size), [6 * MiB, 6 * MiB, 6 * MiB]);
    await d.finishAppends('u/data', size);
    assert.deepEqual(await d.getContent('u/data'), Buffer.concat(chunks));
    await d.delete('u');
    assert.deepEqual(await client.listMultipart(prefixes.get(d)!), []);
  });

  it('sweeps the multipart upload of a writer that ran on after its session was deleted, once older than the purge age', async () => {
    const d = make();
    const prefix = prefixes.get(d)!;
    const store = new ImageStore(d);
    const { id } = await store.uploads.create('app');
    const w = await d.appendWriter(storagePath({ kind: 'uploadData', repo: 'app', id }), { offset: 0 });
    await store.uploads.cancel('app', id);
    // Past a part: the writer begins its multipart upload only now, under a session that is gone.
    await new Promise<void>((resolve, reject) => w.stream.write(randomBytes(9 * MiB), (err) => (err ? reject(err) : resolve())));
    // The writer dies here (neither commit nor cancel): no session leads the purge to its upload.
    assert.equal((await client.listMultipart(prefix)).length, 1);
    await store.purgeStaleUploads(3_600_000);
    assert.equal((await client.listMultipart(prefix)).length, 1, 'younger than the purge age: kept');
    await store.purgeStaleUploads(0, Date.now() + 1000);
    assert.deepEqual(await client.listMultipart(prefix), []);
  });

  it('keeps replication\'s queue, stamps and epoch in the bucket, through a restart', async () => {
    const driver = new S3Driver(client, `t-${randomUUID()}/`);
    const task: Task = { op: 'put', repo: 'app', reference: 'v1', digest: 'sha256:1', mediaType: 'application/vnd.oci.image.manifest.v1+json', time: 1 };
    const queue = new WorkQueue(driver);
    const queued = await queue.enqueue('http://b', task);
    await new StampStore(driver).set({ repo: 'app', reference: 'v1', digest: 'sha256:1', time: Date.now() });
    const epoch = await loadOrCreateEpoch(driver);
    const restarted = new WorkQueue(driver);
    await restarted.load(['http://b']);
    assert.deepEqual(restarted.due('http://b', Date.now(), 10, new Set()).map((q) => q.task), [task]);
    const stamps = new StampStore(driver);
    await stamps.load(60_000);
    assert.equal(stamps.get('app', 'v1')?.digest, 'sha256:1');
    assert.equal(await loadOrCreateEpoch(driver), epoch, 'the same storage keeps its epoch');
    await queue.complete(queued);
    const drained = new WorkQueue(driver);
    await drained.load(['http://b']);
    assert.equal(drained.depth('http://b'), 0);
  });
});
