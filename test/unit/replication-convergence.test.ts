import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { antiEntropyRound } from '../../src/registry/replication/anti-entropy.js';
import { blobLinkReference } from '../../src/registry/replication/blob-links.js';
import { compileContentFilter } from '../../src/registry/replication/content-filter.js';
import { validateConfigObject } from '../../src/config/load.js';
import type { ReplicaStore, StoredManifest } from '../../src/registry/replication/replica-store.js';
import { REPLICATION_HEADER, REPLICATION_TIME_HEADER } from '../../src/oci/replication-headers.js';
import { Replicator } from '../../src/registry/replication/replicator.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';

const MEDIA = 'application/vnd.oci.image.manifest.v1+json';
const digestOf = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

/** Storage as the registry keeps it, in memory: the registry writes, then calls the hook. */
class MemoryStore implements ReplicaStore {
  readonly manifests = new Map<string, StoredManifest>();
  readonly tagMap = new Map<string, string>();
  async repositories() {
    return ['app'];
  }
  async tags() {
    return new Map(this.tagMap);
  }
  async getManifest(_repo: string, reference: string) {
    return this.manifests.get(this.tagMap.get(reference) ?? reference);
  }
  async referrers(_repo: string, digest: string) {
    return [...this.manifests.values()]
      .filter((m) => (JSON.parse(m.body.toString()) as { subject?: { digest?: string } }).subject?.digest === digest)
      .map((m) => ({ digest: m.digest, mediaType: m.mediaType }));
  }
  async hasBlob() {
    return true;
  }
  async openBlob() {
    return { stream: Readable.from([]), size: 0 };
  }
  async putBlob() {}
  readonly unlinked: string[] = [];
  async unlinkBlob(_repo: string, digest: string) {
    this.unlinked.push(digest);
  }
  readonly linked: string[] = [];
  async linkBlob(_repo: string, digest: string) {
    this.linked.push(digest);
    return true;
  }
  async putManifest(_repo: string, reference: string, body: Buffer, mediaType: string) {
    const digest = digestOf(body);
    this.manifests.set(digest, { body, mediaType, digest });
    this.content.set(digest, { body, mediaType, digest });
    if (!reference.includes(':')) this.tagMap.set(reference, digest);
    return digest;
  }
  /** Every manifest ever stored, as the content store keeps the bytes of deleted ones until gc. */
  readonly content = new Map<string, StoredManifest>();
  async restoreManifest(_repo: string, digest: string, mediaType: string | undefined) {
    const stored = this.content.get(digest);
    if (stored) this.manifests.set(digest, { ...stored, mediaType: mediaType ?? stored.mediaType });
    return stored !== undefined;
  }
  async deleteManifest(_repo: string, reference: string) {
    if (!reference.includes(':')) this.tagMap.delete(reference);
    else {
      this.manifests.delete(reference);
      for (const [tag, d] of this.tagMap) if (d === reference) this.tagMap.delete(tag);
    }
  }
}

function setup() {
  const store = new MemoryStore();
  const config = validateConfigObject({ mode: 'registry', registry: { storage: '/x' } }).replication;
  const replicator = new Replicator({
    config,
    store,
    driver: new FsDriver(mkdtempSync(join(tmpdir(), 'conv-'))),
    origin: 'self',
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
  });
  /** The registry's PUT: write, then the hook (with the replication headers when from a peer). */
  const put = async (tag: string, content: string, fromPeerAt?: number) => {
    const body = Buffer.from(content);
    const digest = await store.putManifest('app', tag, body, MEDIA);
    const headers = fromPeerAt === undefined ? {} : { [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(fromPeerAt) };
    await replicator.afterManifestCommit({ repo: 'app', reference: tag, digest, mediaType: MEDIA, headers });
    return digest;
  };
  const del = async (reference: string, fromPeerAt?: number) => {
    await store.deleteManifest('app', reference);
    const headers = fromPeerAt === undefined ? {} : { [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(fromPeerAt) };
    await replicator.afterDelete({ repo: 'app', reference, headers });
  };
  return { store, replicator, put, del };
}

describe('replication convergence on the receiving replica', () => {
  it('restores the local tag when an older copy from a peer lands on it', async () => {
    const { store, put } = setup();
    const local = await put('t', 'local');
    await put('t', 'old-remote', Date.now() - 60_000);
    assert.equal(store.tagMap.get('t'), local);
  });

  it('takes a newer copy from a peer', async () => {
    const { store, put } = setup();
    await put('t', 'local');
    const remote = await put('t', 'new-remote', Date.now() + 60_000);
    assert.equal(store.tagMap.get('t'), remote);
  });

  it('breaks a time tie by the greater digest whatever the arrival order', async () => {
    const at = Date.now() + 60_000;
    const a = setup();
    const b = setup();
    const x1 = await a.put('t', 'x', at);
    await a.put('t', 'y', at);
    await b.put('t', 'y', at);
    await b.put('t', 'x', at);
    assert.equal(a.store.tagMap.get('t'), b.store.tagMap.get('t'));
    assert.equal(a.store.tagMap.get('t'), [x1, digestOf(Buffer.from('y'))].sort()[1]);
  });

  it('links a blob pushed here again when a peer\'s older delete of its link arrives', async () => {
    const { store, replicator } = setup();
    const blob = `sha256:${'d'.repeat(64)}`;
    await replicator.afterBlobCommit({ repo: 'app', digest: blob, headers: {} });
    const olderDelete = { [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(Date.now() - 60_000) };
    // The registry unlinks first, then calls the hook.
    await store.unlinkBlob('app', blob);
    await replicator.afterDelete({ repo: 'app', reference: blobLinkReference(blob), headers: olderDelete });
    assert.deepEqual(store.linked, [blob], 'the newer push wins: the link is put back');
    assert.equal(replicator.deletedAt('app', blobLinkReference(blob)), undefined);
  });

  it('unlinks a peer\'s blob copy older than a blob delete made here, and lets a newer one live', async () => {
    const { store, replicator } = setup();
    const blob = `sha256:${'b'.repeat(64)}`;
    await replicator.afterDelete({ repo: 'app', reference: blobLinkReference(blob), headers: {} });
    const deletedAt = replicator.deletedAt('app', blobLinkReference(blob));
    assert.ok(deletedAt !== undefined);
    const fromPeer = (time: number) => ({ [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(time) });
    await replicator.afterBlobCommit({ repo: 'app', digest: blob, headers: fromPeer(deletedAt - 1) });
    assert.deepEqual(store.unlinked, [blob]);
    assert.equal(await replicator.fetchBlob('app', blob, {}), false, 'no on-demand fetch of a deleted blob link');
    await replicator.afterBlobCommit({ repo: 'app', digest: blob, headers: fromPeer(deletedAt + 1) });
    assert.deepEqual(store.unlinked, [blob]);
    assert.equal(replicator.deletedAt('app', blobLinkReference(blob)), undefined, 'pushed again later: the tombstone is gone');
  });

  it('leaves out of a peer\'s manifest copy what lost to a delete held here', async () => {
    const { replicator, put, del } = setup();
    const digest = await put('t', 'image');
    await del(digest);
    const fromPeer = (time: number) => ({ [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(time) });
    const deletedAt = replicator.deletedAt('app', digest)!;
    assert.deepEqual(replicator.manifestWriteScope('app', digest, ['t'], fromPeer(deletedAt - 1)), { manifest: false, tags: [] });
    assert.deepEqual(replicator.manifestWriteScope('app', digest, ['t'], fromPeer(deletedAt + 1)), { manifest: true, tags: ['t'] });
    assert.deepEqual(replicator.manifestWriteScope('app', digest, ['t'], {}), { manifest: true, tags: ['t'] }, 'a client push is stored whole');
  });

  it('keeps the tombstone of a peer\'s delete of something not received yet, not of a client\'s miss', async () => {
    const { replicator } = setup();
    const late = `sha256:${'c'.repeat(64)}`;
    const fromPeer = { [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: String(Date.now()) };
    await replicator.afterDelete({ repo: 'app', reference: late, headers: {}, missing: true });
    assert.equal(replicator.deletedAt('app', late), undefined);
    await replicator.afterDelete({ repo: 'app', reference: late, headers: fromPeer, missing: true });
    assert.equal(replicator.deletedAt('app', late), Number(fromPeer[REPLICATION_TIME_HEADER]));
    assert.deepEqual(replicator.manifestWriteScope('app', late, [], { [REPLICATION_HEADER]: 'peer', [REPLICATION_TIME_HEADER]: '1' }).manifest, false, 'the late copy is not stored');
  });

  it('puts a tag back when an older delete arrives from a peer', async () => {
    const { store, put, del } = setup();
    const local = await put('t', 'local');
    await del('t', Date.now() - 60_000);
    assert.equal(store.tagMap.get('t'), local);
  });

  it('keeps a tag deleted here when an older copy arrives, and removes a manifest deleted here by digest', async () => {
    const { store, put, del } = setup();
    const digest = await put('t', 'doomed');
    await del(digest);
    await put('t', 'doomed', Date.now() - 60_000);
    assert.equal(store.tagMap.get('t'), undefined);
    assert.equal(store.manifests.has(digest), false);
  });
});

describe('anti-entropy', () => {
  const manifest = (subject?: string, note = '') => JSON.stringify({ schemaVersion: 2, note, ...(subject ? { subject: { digest: subject } } : {}) });

  it('repairs the referrers of tagged manifests (and theirs) that the peer lacks, by digest', async () => {
    const store = new MemoryStore();
    const image = await store.putManifest('app', 'v1', Buffer.from(manifest()), MEDIA);
    const signature = await store.putManifest('app', 'x', Buffer.from(manifest(image, 'signature')), MEDIA);
    store.tagMap.delete('x');
    const sbom = await store.putManifest('app', 'y', Buffer.from(manifest(image, 'sbom')), MEDIA);
    store.tagMap.delete('y');
    const sbomSignature = await store.putManifest('app', 'z', Buffer.from(manifest(sbom, 'sbom signature')), MEDIA);
    store.tagMap.delete('z');
    // The peer has the image and its signature, not the SBOM nor the SBOM's signature.
    const onPeer = new Set([image, signature]);
    const peer = {
      tags: async () => ['v1'],
      hasBlob: async () => true,
      headManifest: async (_repo: string, reference: string) => (reference === 'v1' ? { digest: image } : onPeer.has(reference) ? { digest: reference } : undefined),
    };
    const tasks = await antiEntropyRound({
      store,
      peer,
      filter: compileContentFilter([]),
      stamps: { get: () => undefined, tombstones: () => [] },
      tombstoneRetentionMs: 60_000,
    });
    assert.deepEqual(
      tasks.map((t) => [t.op, t.reference].join(' ')).sort(),
      [`put ${sbom}`, `put ${sbomSignature}`].sort(),
    );
  });
});
