// What a manifest needs on a peer before the manifest itself can be put there.

export interface ManifestReferences {
  /** Child manifests (an index or manifest list), copied before the parent. */
  manifests: { digest: string; mediaType?: string }[];
  /** Config and layers of an image manifest, and an artifact's blobs. */
  blobs: { digest: string; size?: number }[];
}

interface Descriptorish {
  digest?: unknown;
  mediaType?: unknown;
  size?: unknown;
}

function descriptors(value: unknown): Descriptorish[] {
  return Array.isArray(value) ? value.filter((d): d is Descriptorish => typeof d === 'object' && d !== null && typeof (d as Descriptorish).digest === 'string') : [];
}

/** Parses the manifest bytes; a body that is not JSON references nothing (the peer will judge it). */
export function manifestReferences(body: Buffer | string): ManifestReferences {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { manifests: [], blobs: [] };
  }
  if (typeof doc !== 'object' || doc === null) return { manifests: [], blobs: [] };
  const manifests = descriptors(doc.manifests).map((d) => ({
    digest: d.digest as string,
    mediaType: typeof d.mediaType === 'string' ? d.mediaType : undefined,
  }));
  const blobs: ManifestReferences['blobs'] = [];
  const seen = new Set<string>();
  const config = descriptors([doc.config]);
  for (const d of [...config, ...descriptors(doc.layers), ...descriptors(doc.blobs)]) {
    const digest = d.digest as string;
    if (seen.has(digest)) continue;
    seen.add(digest);
    blobs.push({ digest, size: typeof d.size === 'number' ? d.size : undefined });
  }
  return { manifests, blobs };
}

