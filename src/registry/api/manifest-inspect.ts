// Validates a pushed manifest and extracts what the registry needs from it. Pure: bytes in,
// facts or an OciError out. The bytes themselves are stored untouched.
import { OciError } from '../../errors/oci-codes.js';
import { parseDigest, type Digest } from '../storage/digest.js';
import type { ReferrerDescriptor } from '../storage/manifest-store.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const SCHEMA1_TYPES = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);

export interface ManifestFacts {
  mediaType: string;
  kind: 'image' | 'index';
  /** Blobs an image manifest needs in the repository (config and layers). */
  blobs: Digest[];
  /** Manifests an index lists. */
  children: Digest[];
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

function invalid(message: string): OciError {
  return new OciError('MANIFEST_INVALID', message);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptorDigest(v: unknown, where: string): Digest {
  if (!isObject(v)) throw invalid(`${where}: must be a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw invalid(`${where}.mediaType: required`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw invalid(`${where}.size: must be a non-negative integer`);
  const digest = typeof v.digest === 'string' ? parseDigest(v.digest) : undefined;
  if (!digest) throw invalid(`${where}.digest: not a valid sha256 or sha512 digest`);
  return digest;
}

/** Media type without parameters, lower-cased (`application/json; charset=utf-8` -> `application/json`). */
export function baseMediaType(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

export function inspectManifest(bytes: Buffer, contentType: string | undefined): ManifestFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = baseMediaType(contentType);
  const mediaType = header || declared || '';
  if (mediaType === '') throw invalid('Content-Type is required (the manifest has no mediaType either)');
  if (declared !== undefined && declared !== mediaType) {
    throw invalid(`Content-Type ${mediaType} does not match the manifest's mediaType ${declared}`);
  }
  if (SCHEMA1_TYPES.has(mediaType)) throw new OciError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported');
  const isImage = IMAGE_TYPES.has(mediaType);
  if (!isImage && !INDEX_TYPES.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const facts: ManifestFacts = { mediaType, kind: isImage ? 'image' : 'index', blobs: [], children: [] };
  if (isImage) {
    facts.blobs.push(descriptorDigest(doc.config, 'config'));
    if (doc.layers !== undefined && !Array.isArray(doc.layers)) throw invalid('layers: must be an array');
    ((doc.layers as unknown[] | undefined) ?? []).forEach((l, i) => {
      const digest = descriptorDigest(l, `layers[${i}]`);
      // Non-distributable ("foreign") layers are fetched from their `urls`, never pushed here.
      const foreign = isObject(l) && Array.isArray(l.urls) && l.urls.length > 0;
      if (!foreign) facts.blobs.push(digest);
    });
  } else {
    if (!Array.isArray(doc.manifests)) throw invalid('manifests: must be an array');
    doc.manifests.forEach((m, i) => facts.children.push(descriptorDigest(m, `manifests[${i}]`)));
  }
  if (doc.subject !== undefined) facts.subject = descriptorDigest(doc.subject, 'subject');
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') throw invalid('artifactType: must be a string');
    facts.artifactType = doc.artifactType;
  } else if (isImage && isObject(doc.config) && typeof doc.config.mediaType === 'string') {
    // Image-spec: an artifact without artifactType is typed by its config's media type.
    facts.artifactType = doc.config.mediaType;
  }
  if (doc.annotations !== undefined) {
    if (!isObject(doc.annotations) || Object.values(doc.annotations).some((v) => typeof v !== 'string')) {
      throw invalid('annotations: must map strings to strings');
    }
    facts.annotations = doc.annotations as Record<string, string>;
  }
  return facts;
}

/** The descriptor the referrers API lists for this manifest. */
export function referrerDescriptor(facts: ManifestFacts, digest: Digest, size: number): ReferrerDescriptor {
  const d: ReferrerDescriptor = { mediaType: facts.mediaType, digest: digest.value, size };
  if (facts.artifactType !== undefined) d.artifactType = facts.artifactType;
  if (facts.annotations !== undefined) d.annotations = facts.annotations;
  return d;
}
