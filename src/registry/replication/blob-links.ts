// A repository's link to a blob, as replication names it in stamps and queued tasks:
// `blobs/<digest>`. A '/' can appear in neither a tag nor a digest, so the link of a blob and a
// manifest under the same digest (or a tag) never share a stamp or a queue slot.
const PREFIX = 'blobs/';

export function blobLinkReference(digest: string): string {
  return PREFIX + digest;
}

/** The blob digest of a blob-link reference; undefined for a tag or a manifest digest. */
export function blobLinkDigest(reference: string): string | undefined {
  return reference.startsWith(PREFIX) ? reference.slice(PREFIX.length) : undefined;
}
