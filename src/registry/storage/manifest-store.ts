// Manifests: bytes in the content-addressed blob area, a per-repository revision link carrying the
// pushed media type, tag links, and a referrers index keyed by subject. Write order on push:
// bytes, revision, referrer entry, tag, so a crash at any point leaves at most unreferenced data.
// A push leaves its record (with the manifest as the API parsed it) in the cache, so replication,
// which copies the manifest to the peers right after, neither reads the files back nor parses the
// bytes again.
import { parseDigest, type Digest } from '../../oci/digest.js';
import { readStoredManifest, type Manifest, type ReferrerDescriptor } from '../../oci/manifest.js';
import { ifFound, PathNotFoundError, type StorageDriver } from './driver.js';
import { referrerEntryDigest, storagePath } from './paths.js';
import { StorageError } from './storage-error.js';
import type { TtlCache } from './ttl-cache.js';

export interface ManifestRecord {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly bytes: Buffer;
  /** What the manifest references: the pushed parse, else read from the bytes once, when asked. */
  readonly manifest: Manifest;
}

export interface PutManifestInput {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
  /** The manifest as parsed from `bytes`, when the caller has it (a push): kept with the record. */
  manifest?: Manifest;
  /** Set the tag to this manifest too. */
  tag?: string;
  /** The manifest's `subject`, with the descriptor to list under it. */
  referrer?: { subject: Digest; descriptor: ReferrerDescriptor };
}

/**
 * Manifests above this size are read from disk each time: with MAX_CACHED_MANIFESTS entries the
 * cache then holds at most 64 MiB, while typical manifests (1-10 KiB) are all cached.
 */
const MAX_CACHED_MANIFEST_BYTES = 64 * 1024;

function manifestRecord(digest: Digest, mediaType: string, bytes: Buffer, parsed?: Manifest): ManifestRecord {
  let manifest = parsed;
  return {
    digest,
    mediaType,
    size: bytes.length,
    bytes,
    get manifest() {
      return (manifest ??= readStoredManifest(bytes, mediaType));
    },
  };
}

interface RevisionLink {
  digest: string;
  mediaType: string;
  size: number;
  subject?: string;
}

export class ManifestStore {
  constructor(
    private readonly driver: StorageDriver,
    /** `repo\0digest` -> record, and `repo\0:tag` -> digest string. */
    private readonly records: TtlCache<ManifestRecord>,
    private readonly tags: TtlCache<string>,
  ) {}

  /** Resolves a tag to a digest; undefined when the tag does not exist. */
  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    const key = `${repo}\0${tag}`;
    const cached = this.tags.get(key);
    if (cached !== undefined) return parseDigest(cached);
    const mark = this.tags.mark();
    try {
      const value = (await this.driver.getContent(storagePath({ kind: 'tagLink', repo, tag }))).toString().trim();
      const digest = parseDigest(value);
      if (digest) this.tags.fill(key, digest.value, mark);
      return digest;
    } catch (err) {
      if (err instanceof PathNotFoundError) return undefined;
      throw err;
    }
  }

  /** The manifest held by the repository under this digest, or undefined. */
  async get(repo: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const key = `${repo}\0${digest.value}`;
    const cached = this.records.get(key);
    if (cached) return cached;
    const mark = this.records.mark();
    const link = await this.readRevision(repo, digest);
    if (!link) return undefined;
    const bytes = await ifFound(this.driver.getContent(storagePath({ kind: 'blobData', digest })));
    if (!bytes) return undefined;
    const record = manifestRecord(digest, link.mediaType, bytes);
    if (bytes.length <= MAX_CACHED_MANIFEST_BYTES) this.records.fill(key, record, mark);
    return record;
  }

  async put(repo: string, input: PutManifestInput): Promise<void> {
    const { digest } = input;
    // Taken before the writes: a delete meanwhile (of this manifest, say) leaves the cache empty.
    const recordMark = this.records.mark();
    const blobPath = storagePath({ kind: 'blobData', digest });
    try {
      await this.driver.stat(blobPath);
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
      await this.driver.putContent(blobPath, input.bytes);
    }
    const link: RevisionLink = { digest: digest.value, mediaType: input.mediaType, size: input.bytes.length };
    if (input.referrer) link.subject = input.referrer.subject.value;
    await this.driver.putContent(storagePath({ kind: 'revisionLink', repo, digest }), JSON.stringify(link));
    if (input.referrer) {
      const entry = storagePath({ kind: 'referrerEntry', repo, subject: input.referrer.subject, digest });
      await this.driver.putContent(entry, JSON.stringify(input.referrer.descriptor));
    }
    const key = `${repo}\0${digest.value}`;
    if (input.bytes.length <= MAX_CACHED_MANIFEST_BYTES && this.records.mark() === recordMark) {
      this.records.set(key, manifestRecord(digest, input.mediaType, input.bytes, input.manifest));
    } else {
      this.records.delete(key);
    }
    // The tag is not cached here: two pushes of one tag at once finish in either order, and only
    // the file says which one won.
    if (input.tag !== undefined) {
      await this.driver.putContent(storagePath({ kind: 'tagLink', repo, tag: input.tag }), digest.value);
      this.tags.delete(`${repo}\0${input.tag}`);
    }
  }

  /** Deletes the manifest, every tag pointing at it and its referrers entry; false if unknown. */
  async delete(repo: string, digest: Digest): Promise<{ tags: string[] } | undefined> {
    const link = await this.readRevision(repo, digest);
    if (!link) return undefined;
    const removedTags: string[] = [];
    for (const tag of await this.listTags(repo)) {
      if ((await this.resolveTag(repo, tag))?.value === digest.value) {
        await this.deleteTag(repo, tag);
        removedTags.push(tag);
      }
    }
    const subject = link.subject ? parseDigest(link.subject) : await this.subjectFromBytes(digest);
    if (subject) await this.driver.delete(storagePath({ kind: 'referrerEntry', repo, subject, digest }));
    await this.driver.delete(storagePath({ kind: 'revisionDir', repo, digest }));
    // After the removal: a lookup that read the revision meanwhile must not cache it (TtlCache.fill).
    this.records.delete(`${repo}\0${digest.value}`);
    return { tags: removedTags };
  }

  /** Removes a tag (not the manifest); false when the tag does not exist. */
  async deleteTag(repo: string, tag: string): Promise<boolean> {
    const key = `${repo}\0${tag}`;
    this.tags.delete(key);
    if (!(await ifFound(this.driver.stat(storagePath({ kind: 'tagLink', repo, tag }))))) return false;
    await this.driver.delete(storagePath({ kind: 'tagDir', repo, tag }));
    // Again once the link is gone: a lookup that read it meanwhile must not cache it (TtlCache.fill).
    this.tags.delete(key);
    return true;
  }

  /** Tags in lexical order; [] when the repository has none. */
  async listTags(repo: string): Promise<string[]> {
    return ((await ifFound(this.driver.list(storagePath({ kind: 'tagsDir', repo })))) ?? []).sort();
  }

  /** Descriptors of the manifests whose subject is `subject`, in digest order. */
  async referrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const names = await ifFound(this.driver.list(storagePath({ kind: 'referrersDir', repo, subject })));
    if (!names) return [];
    names.sort();
    const out: ReferrerDescriptor[] = [];
    for (const name of names) {
      const digest = parseDigest(referrerEntryDigest(name));
      // Not an entry this store wrote (a temporary file of another tool, say): not a referrer.
      if (!digest) continue;
      const entry = await ifFound(this.driver.getContent(storagePath({ kind: 'referrerEntry', repo, subject, digest })));
      if (entry) out.push(JSON.parse(entry.toString()) as ReferrerDescriptor);
    }
    return out;
  }

  /** The `subject` of stored manifest bytes (for revision links written without it). */
  private async subjectFromBytes(digest: Digest): Promise<Digest | undefined> {
    const bytes = await ifFound(this.driver.getContent(storagePath({ kind: 'blobData', digest })));
    return bytes && readStoredManifest(bytes).subject;
  }

  private async readRevision(repo: string, digest: Digest): Promise<RevisionLink | undefined> {
    const path = storagePath({ kind: 'revisionLink', repo, digest });
    try {
      return JSON.parse((await this.driver.getContent(path)).toString()) as RevisionLink;
    } catch (err) {
      if (err instanceof PathNotFoundError) return undefined;
      if (err instanceof SyntaxError) throw new StorageError({ kind: 'corrupt', path }, `corrupt revision link in storage: ${path}`);
      throw err;
    }
  }
}
