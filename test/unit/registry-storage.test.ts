// The image store over the filesystem driver, without sockets.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, statSync, truncateSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StorageError } from '../../src/registry/storage/storage-error.js';
import { digestOf } from '../../src/oci/digest.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';
import { storagePath } from '../../src/registry/storage/paths.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { ImageStoreAdapter } from '../../src/registry/replication/image-store-adapter.js';

const fresh = () => {
  const root = mkdtempSync(join(tmpdir(), 'image-store-'));
  return { root, store: ImageStore.onDirectory(root) };
};
const body = (...chunks: (Buffer | string)[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
const fault = (kind: string) => (e: unknown) => e instanceof StorageError && e.fault.kind === kind;
const collect = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

describe('image store', () => {
  it('stores a blob under its digest and links it only into the pushing repository', async () => {
    const { store } = fresh();
    const digest = digestOf('sha256', 'hello world');
    const info = await store.blobs.put('a', body('hello ', 'world'), digest);
    assert.equal(info.size, 11);
    assert.equal(await store.blobs.stat('a', digest), 11);
    assert.equal(await store.blobs.stat('b', digest), undefined);
    assert.equal((await collect(await store.blobs.read('a', digest, { start: 6, end: 10 }))).toString(), 'world');
    assert.ok(await store.blobs.mount('a', 'b', digest));
    assert.equal(await store.blobs.stat('b', digest), 11);
  });

  it('keeps nothing of a blob whose digest does not match', async () => {
    const { root, store } = fresh();
    const claimed = digestOf('sha256', 'claimed');
    await assert.rejects(store.blobs.put('a', body('actual'), claimed), fault('digestMismatch'));
    assert.equal(existsSync(join(root, storagePath({ kind: 'blobData', digest: claimed }))), false);
    assert.deepEqual(readdirSync(join(root, '_tmp')), []);
    assert.equal(await store.blobs.stat('a', claimed), undefined);
  });

  it('continues an upload from a second store instance on the same directory (another process)', async () => {
    const { root, store } = fresh();
    const other = ImageStore.onDirectory(root);
    const a = randomBytes(1000);
    const b = randomBytes(500);
    const upload = await store.uploads.create('r');
    await store.uploads.append('r', upload.id, body(a), { start: 0, length: 1000 });
    const status = await other.uploads.status('r', upload.id);
    assert.equal(status.size, 1000);
    await assert.rejects(other.uploads.append('r', upload.id, body(b), { start: 999, length: 500 }), fault('chunkOutOfOrder'));
    await other.uploads.append('r', upload.id, body(b), { start: 1000, length: 500 });
    const whole = Buffer.concat([a, b]);
    // The first instance's running hash is stale (it never saw `b`): it must re-hash from disk.
    const info = await store.uploads.commit('r', upload.id, digestOf('sha256', whole));
    assert.equal(info.size, 1500);
    assert.deepEqual(await collect(await store.blobs.read('r', info.digest)), whole);
    await assert.rejects(other.uploads.status('r', upload.id), fault('uploadUnknown'));
  });

  it('ignores a torn tail left in the upload data by a crash mid-chunk', async () => {
    const { root, store } = fresh();
    const upload = await store.uploads.create('r');
    await store.uploads.append('r', upload.id, body('good'));
    appendFileSync(join(root, storagePath({ kind: 'uploadData', repo: 'r', id: upload.id })), 'torn bytes');
    const restarted = ImageStore.onDirectory(root);
    assert.equal((await restarted.uploads.status('r', upload.id)).size, 4);
    const info = await restarted.uploads.commit('r', upload.id, digestOf('sha256', 'good'));
    assert.equal(info.size, 4);
    assert.equal((await collect(await restarted.blobs.read('r', info.digest))).toString(), 'good');
  });

  it('commits an empty upload and verifies sha512 commits by re-hashing', async () => {
    const { store } = fresh();
    const empty = await store.uploads.create('r');
    assert.equal((await store.uploads.commit('r', empty.id, digestOf('sha256', ''))).size, 0);
    const u = await store.uploads.create('r');
    await store.uploads.append('r', u.id, body('abc'));
    const info = await store.uploads.commit('r', u.id, digestOf('sha512', 'abcdef'), body('def'));
    assert.equal(info.digest.algorithm, 'sha512');
    assert.equal(await store.blobs.stat('r', info.digest), 6);
  });

  it('stores manifests with tags, lists tags and referrers, deletes them and lists the catalog', async () => {
    const { store } = fresh();
    const subject = digestOf('sha256', 'subject');
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, subject: { digest: subject.value } }));
    const digest = digestOf('sha256', bytes);
    await store.manifests.put('lib/app', {
      bytes,
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      tag: 'v2',
      referrer: { subject, descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest.value, size: bytes.length, artifactType: 'x/y' } },
    });
    await store.manifests.put('lib/app', { bytes, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: 'v1' });
    await store.manifests.put('zzz', { bytes, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    assert.equal((await store.manifests.resolveTag('lib/app', 'v1'))?.value, digest.value);
    const record = await store.manifests.get('lib/app', digest);
    assert.deepEqual(record?.bytes, bytes);
    assert.deepEqual(await store.manifests.listTags('lib/app'), ['v1', 'v2']);
    assert.equal((await store.manifests.referrers('lib/app', subject))[0].artifactType, 'x/y');
    assert.deepEqual(await store.catalog(), ['lib/app', 'zzz']);
    assert.deepEqual(await store.manifests.delete('lib/app', digest), { tags: ['v1', 'v2'] });
    assert.equal(await store.manifests.get('lib/app', digest), undefined);
    assert.deepEqual(await store.manifests.referrers('lib/app', subject), []);
    assert.equal(await store.manifests.delete('lib/app', digest), undefined);
  });

  it('reports storage that cannot be written, and removes only stale temporaries', async () => {
    const { root, store } = fresh();
    assert.equal(await store.checkWritable(), undefined);
    await store.driver.putContent('_tmp/old', 'x');
    await store.driver.putContent('_tmp/new', 'x');
    const { utimesSync } = await import('node:fs');
    utimesSync(join(root, '_tmp/old'), new Date(0), new Date(0));
    assert.equal(await store.removeStaleTemporaries(), 1);
    assert.deepEqual(readdirSync(join(root, '_tmp')).sort(), ['new']);
    assert.ok(statSync(join(root, '_tmp/new')).isFile());
    truncateSync(join(root, '_tmp/new'));
  });
});

describe('abandoned uploads', () => {
  it('purges upload sessions older than the given age and keeps recent ones', async () => {
    const { store } = fresh();
    const old = await store.uploads.create('a/b');
    const recent = await store.uploads.create('c');
    const now = Date.now() + 10_000;
    assert.equal(await store.purgeStaleUploads(5_000, now), 2);
    await assert.rejects(store.uploads.status('a/b', old.id), fault('uploadUnknown'));
    await assert.rejects(store.uploads.status('c', recent.id), fault('uploadUnknown'));
    const fresh2 = await store.uploads.create('c');
    assert.equal(await store.purgeStaleUploads(60_000), 0);
    assert.equal((await store.uploads.status('c', fresh2.id)).size, 0);
  });
});

/**
 * The filesystem driver, with the answer of one call (`method` on `path`) held back until
 * `release()`: a lookup that has read from disk but not yet cached what it read.
 */
function heldDriver(root: string, method: 'stat' | 'getContent' | 'putContent', path: string) {
  const driver = new FsDriver(root);
  let reached!: () => void;
  let release!: () => void;
  const held = { reached: new Promise<void>((r) => { reached = r; }), gate: new Promise<void>((r) => { release = r; }) };
  let armed = false;
  const original = driver[method].bind(driver) as (p: string, ...rest: unknown[]) => Promise<unknown>;
  (driver as unknown as Record<string, (p: string, ...rest: unknown[]) => Promise<unknown>>)[method] = async (p: string, ...rest: unknown[]) => {
    const answer = await original(p, ...rest);
    if (armed && p === path) {
      armed = false;
      reached();
      await held.gate;
    }
    return answer;
  };
  return { driver, arm: () => { armed = true; }, reached: held.reached, release };
}

describe('lookup caches and deletes', () => {
  it('does not cache a blob link a lookup read while a delete removed it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'image-store-'));
    const digest = digestOf('sha256', 'cached');
    const { driver, arm, reached, release } = heldDriver(root, 'stat', storagePath({ kind: 'blobData', digest }));
    const store = new ImageStore(driver);
    await store.blobs.put('a', body('cached'), digest);
    arm();
    // The lookup has seen the link (and is stating the bytes) when the delete runs to completion.
    const lookup = store.blobs.stat('a', digest);
    await reached;
    assert.equal(await store.blobs.unlink('a', digest), true);
    release();
    assert.equal(await lookup, 6, 'the lookup under way answers what it read');
    assert.equal(await store.blobs.stat('a', digest), undefined, 'the deleted link is not served from the cache');
  });

  it('does not cache a tag or a manifest a lookup read while a delete removed it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'image-store-'));
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
    const digest = digestOf('sha256', bytes);
    const tagHeld = heldDriver(root, 'getContent', storagePath({ kind: 'tagLink', repo: 'a', tag: 'v1' }));
    const store = new ImageStore(tagHeld.driver);
    await store.manifests.put('a', { bytes, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: 'v1' });
    tagHeld.arm();
    const lookup = store.manifests.resolveTag('a', 'v1');
    await tagHeld.reached;
    assert.equal(await store.manifests.deleteTag('a', 'v1'), true);
    tagHeld.release();
    assert.equal((await lookup)?.value, digest.value);
    assert.equal(await store.manifests.resolveTag('a', 'v1'), undefined, 'the deleted tag is not served from the cache');

    const manifestHeld = heldDriver(root, 'getContent', storagePath({ kind: 'blobData', digest }));
    const second = new ImageStore(manifestHeld.driver);
    manifestHeld.arm();
    const read = second.manifests.get('a', digest);
    await manifestHeld.reached;
    assert.ok(await second.manifests.delete('a', digest));
    manifestHeld.release();
    assert.equal((await read)?.digest.value, digest.value);
    assert.equal(await second.manifests.get('a', digest), undefined, 'the deleted manifest is not served from the cache');
  });
});

describe('streaming a body into storage', () => {
  it('keeps the source alive when the sink fails, so the request can still be answered', async () => {
    const { pipeHashed } = await import('../../src/registry/storage/stream-hash.js');
    const { Writable: W } = await import('node:stream');
    const source = new Readable({ read() {} });
    source.push(Buffer.from('first'));
    const failing = new W({ write: (_c, _e, cb) => cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) });
    await assert.rejects(pipeHashed(source, failing, []), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC');
    assert.equal(source.destroyed, false);
  });
  it('fails with ECONNRESET when the source closes before its end', async () => {
    const { pipeHashed } = await import('../../src/registry/storage/stream-hash.js');
    const { Writable: W } = await import('node:stream');
    const source = new Readable({ read() {} });
    source.push(Buffer.from('partial'));
    const sink = new W({ write: (_c, _e, cb) => cb() });
    const done = pipeHashed(source, sink, []);
    setImmediate(() => source.destroy());
    await assert.rejects(done, (e: unknown) => (e as NodeJS.ErrnoException).code === 'ECONNRESET');
  });
});

describe('a manifest just pushed, as replication reads it to copy it', () => {
  const OCI = 'application/vnd.oci.image.manifest.v1+json';
  const config = digestOf('sha256', '{}');
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.value, size: 2 }, layers: [] }));
  const digest = digestOf('sha256', bytes);

  it('comes from memory with the references parsed at the push: no file read back, no second parse', async () => {
    const driver = new FsDriver(mkdtempSync(join(tmpdir(), 'image-store-')));
    const reads: string[] = [];
    const getContent = driver.getContent.bind(driver);
    driver.getContent = (path) => {
      reads.push(path);
      return getContent(path);
    };
    const store = new ImageStore(driver);
    const manifest = parseManifest(bytes, OCI);
    await store.manifests.put('a', { bytes, digest, mediaType: OCI, manifest });
    const stored = await new ImageStoreAdapter(store).getManifest('a', digest.value);
    assert.deepEqual(reads, [], 'nothing read back from storage');
    assert.equal(stored?.parsed, manifest, 'the push parse itself, not a new one');
    assert.deepEqual(stored?.parsed?.blobs.map((b) => b.value), [config.value]);
  });

  it('is not left in the cache when a delete ran while the push was writing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'image-store-'));
    const subject = digestOf('sha256', 'subject');
    const held = heldDriver(root, 'putContent', storagePath({ kind: 'referrerEntry', repo: 'a', subject, digest }));
    const store = new ImageStore(held.driver);
    held.arm();
    const push = store.manifests.put('a', { bytes, digest, mediaType: OCI, referrer: { subject, descriptor: { mediaType: OCI, digest: digest.value, size: bytes.length } } });
    await held.reached;
    assert.ok(await store.manifests.delete('a', digest));
    held.release();
    await push;
    assert.equal(await store.manifests.get('a', digest), undefined, 'the deleted manifest is not served from the cache');
  });
});
