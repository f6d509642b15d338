// ReplicaStore over the registry's ImageStore. Writes go straight to the store, not through the
// HTTP handlers, so they never fire the registry hooks (replication does not replicate its own
// repairs and fetches).
import type { Readable } from 'node:stream';
import { parseDigest, digestOf, type Digest } from '../../oci/digest.js';
import { ifFound } from '../storage/driver.js';
import type { ImageStore } from '../storage/image-store.js';
import { storagePath } from '../storage/paths.js';
import { isDigest } from '../../oci/grammar.js';
import { readStoredManifest, referrerDescriptor, type Manifest } from '../../oci/manifest.js';
import { MEDIA_TYPES } from '../../oci/media-types.js';
import type { ReplicaStore, StoredManifest } from './replica-store.js';

function digestOrThrow(value: string): Digest {
  const digest = parseDigest(value);
  if (!digest) throw new Error(`unsupported digest ${value}`);
  return digest;
}

/** The `subject` descriptor entry a manifest lists under, as the registry's PUT handler records it. */
function referrerOf(manifest: Manifest, digest: Digest, size: number) {
  return manifest.subject ? { subject: manifest.subject, descriptor: referrerDescriptor(manifest, digest, size) } : undefined;
}

/** The manifest's own `mediaType` field (a stamp written before stamps kept it), else OCI's image manifest. */
function declaredMediaType(body: Buffer): string {
  return readStoredManifest(body).mediaType || MEDIA_TYPES.ociManifest;
}

export class ImageStoreAdapter implements ReplicaStore {
  constructor(private readonly store: ImageStore) {}

  repositories(): Promise<string[]> {
    return this.store.catalog();
  }

  async tags(repo: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const tag of await this.store.manifests.listTags(repo)) {
      const digest = await this.store.manifests.resolveTag(repo, tag);
      if (digest) out.set(tag, digest.value);
    }
    return out;
  }

  async getManifest(repo: string, reference: string): Promise<StoredManifest | undefined> {
    const digest = isDigest(reference) ? parseDigest(reference) : await this.store.manifests.resolveTag(repo, reference);
    if (!digest) return undefined;
    const record = await this.store.manifests.get(repo, digest);
    if (!record) return undefined;
    return {
      body: record.bytes,
      mediaType: record.mediaType,
      digest: record.digest.value,
      // A getter: the store parses a manifest read from disk only when asked (a push's is parsed already).
      get parsed() {
        return record.manifest;
      },
    };
  }

  async referrers(repo: string, digest: string): Promise<{ digest: string; mediaType: string }[]> {
    const subject = parseDigest(digest);
    return subject ? this.store.manifests.referrers(repo, subject) : [];
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const parsed = parseDigest(digest);
    return parsed !== undefined && (await this.store.blobs.stat(repo, parsed)) !== undefined;
  }

  async openBlob(repo: string, digest: string): Promise<{ stream: Readable; size: number } | undefined> {
    const parsed = parseDigest(digest);
    if (!parsed) return undefined;
    const size = await this.store.blobs.stat(repo, parsed);
    if (size === undefined) return undefined;
    return { stream: await this.store.blobs.read(repo, parsed), size };
  }

  async putBlob(repo: string, digest: string, stream: Readable, size?: number): Promise<void> {
    await this.store.blobs.put(repo, stream, digestOrThrow(digest), size);
  }

  async unlinkBlob(repo: string, digest: string): Promise<void> {
    const parsed = parseDigest(digest);
    if (parsed) await this.store.blobs.unlink(repo, parsed);
  }

  async linkBlob(repo: string, digest: string): Promise<boolean> {
    const parsed = parseDigest(digest);
    if (!parsed || (await this.store.blobs.statGlobal(parsed)) === undefined) return false;
    await this.store.blobs.link(repo, parsed);
    return true;
  }

  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string, named?: string): Promise<string> {
    const digest = isDigest(reference) ? digestOrThrow(reference) : named !== undefined ? digestOrThrow(named) : digestOf('sha256', body);
    const tag = isDigest(reference) ? undefined : reference;
    const manifest = readStoredManifest(body, mediaType);
    await this.store.manifests.put(repo, { bytes: body, digest, mediaType, manifest, tag, referrer: referrerOf(manifest, digest, body.length) });
    return digest.value;
  }

  async restoreManifest(repo: string, digest: string, mediaType: string | undefined): Promise<boolean> {
    const parsed = digestOrThrow(digest);
    const bytes = await ifFound(this.store.driver.getContent(storagePath({ kind: 'blobData', digest: parsed })));
    // The content store is addressed by digest; a check all the same, as for every manifest stored.
    if (!bytes || digestOf(parsed.algorithm, bytes).value !== parsed.value) return false;
    await this.putManifest(repo, digest, bytes, mediaType ?? declaredMediaType(bytes), digest);
    return true;
  }

  async deleteManifest(repo: string, reference: string): Promise<void> {
    if (!isDigest(reference)) {
      await this.store.manifests.deleteTag(repo, reference);
      return;
    }
    const digest = parseDigest(reference);
    if (digest) await this.store.manifests.delete(repo, digest);
  }
}
