// The one reading of image manifests and indexes, for everything that needs to know what a
// manifest references: the registry's PUT (strict: a manifest this registry would refuse throws
// InvalidManifestError), and replication's copies and garbage collection, which read bytes a PUT
// accepted before (lenient: what is malformed is skipped, nothing throws). Both readings come out
// of the same code, so what a push had to have present is exactly what a copy sends first and
// what collection keeps. Pure: bytes in, facts out; the bytes themselves are stored untouched.
import { parseDigest, type Digest } from './digest.js';
import { baseMediaType, IMAGE_MANIFEST_TYPES, INDEX_TYPES, SCHEMA1_TYPES } from './media-types.js';

export interface Manifest {
  mediaType: string;
  kind: 'image' | 'index';
  /** Blobs an image manifest needs in the repository: config and distributable layers, once each. */
  blobs: Digest[];
  /** Manifests an index lists, once each. */
  children: Digest[];
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A descriptor as the referrers API lists it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A pushed manifest the registry does not accept (the API answers MANIFEST_INVALID). */
export class InvalidManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidManifestError';
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Strict readings throw at the first problem; lenient ones skip the part it is in, and take a
 * descriptor for its digest alone (what it names is kept or copied, whatever else it lacks).
 */
interface Fail {
  (message: string): undefined;
  lenient?: true;
}

const throwing: Fail = (message) => {
  throw new InvalidManifestError(message);
};
const skipping: Fail = Object.assign(() => undefined, { lenient: true as const });

function descriptorDigest(v: unknown, where: string, fail: Fail): Digest | undefined {
  if (!isObject(v)) return fail(`${where}: must be a descriptor object`);
  if (fail.lenient) return typeof v.digest === 'string' ? parseDigest(v.digest) : undefined;
  if (typeof v.mediaType !== 'string' || v.mediaType === '') return fail(`${where}.mediaType: required`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) return fail(`${where}.size: must be a non-negative integer`);
  const digest = typeof v.digest === 'string' ? parseDigest(v.digest) : undefined;
  return digest ?? fail(`${where}.digest: not a valid sha256 or sha512 digest`);
}

function addOnce(list: Digest[], digest: Digest | undefined): void {
  if (digest && !list.some((d) => d.value === digest.value)) list.push(digest);
}

function readImage(doc: Json, out: Manifest, fail: Fail): void {
  addOnce(out.blobs, descriptorDigest(doc.config, 'config', fail));
  if (doc.layers !== undefined && !Array.isArray(doc.layers)) fail('layers: must be an array');
  const layers = Array.isArray(doc.layers) ? (doc.layers as unknown[]) : [];
  layers.forEach((l, i) => {
    const digest = descriptorDigest(l, `layers[${i}]`, fail);
    // Non-distributable ("foreign") layers are fetched from their `urls`, never pushed here.
    const foreign = isObject(l) && Array.isArray(l.urls) && l.urls.length > 0;
    if (!foreign) addOnce(out.blobs, digest);
  });
  // Image-spec: an artifact without artifactType is typed by its config's media type.
  if (out.artifactType === undefined && isObject(doc.config) && typeof doc.config.mediaType === 'string') out.artifactType = doc.config.mediaType;
}

function readIndex(doc: Json, out: Manifest, fail: Fail): void {
  if (!Array.isArray(doc.manifests)) {
    fail('manifests: must be an array');
    return;
  }
  doc.manifests.forEach((m, i) => addOnce(out.children, descriptorDigest(m, `manifests[${i}]`, fail)));
}

/** The media type a manifest goes by: the Content-Type it came with, else its own `mediaType`. */
function mediaTypeOf(doc: Json, contentType: string | undefined, fail: Fail): string {
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const mediaType = baseMediaType(contentType) || declared || '';
  if (mediaType === '') fail('Content-Type is required (the manifest has no mediaType either)');
  else if (declared !== undefined && declared !== mediaType) fail(`Content-Type ${mediaType} does not match the manifest's mediaType ${declared}`);
  if (SCHEMA1_TYPES.has(mediaType)) fail('Docker schema 1 manifests are not supported');
  else if (mediaType !== '' && !IMAGE_MANIFEST_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) fail(`unsupported manifest media type ${mediaType}`);
  if (doc.schemaVersion !== 2) fail('schemaVersion must be 2');
  return mediaType;
}

function readManifest(bytes: Buffer, contentType: string | undefined, fail: Fail): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    fail('manifest is not valid JSON');
  }
  const mediaType = baseMediaType(contentType);
  if (!isObject(doc)) {
    fail('manifest must be a JSON object');
    return { mediaType, kind: INDEX_TYPES.has(mediaType) ? 'index' : 'image', blobs: [], children: [] };
  }
  const out: Manifest = { mediaType: mediaTypeOf(doc, contentType, fail), kind: 'image', blobs: [], children: [] };
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  const known = IMAGE_MANIFEST_TYPES.has(out.mediaType) || INDEX_TYPES.has(out.mediaType);
  // A stored manifest of no known type (lenient reading only) is read as both kinds: collection
  // then keeps whatever it may reference.
  if (INDEX_TYPES.has(out.mediaType) || (!known && Array.isArray(doc.manifests))) {
    out.kind = 'index';
    readIndex(doc, out, fail);
  }
  if (IMAGE_MANIFEST_TYPES.has(out.mediaType) || (!known && doc.config !== undefined)) readImage(doc, out, fail);
  if (doc.subject !== undefined) out.subject = descriptorDigest(doc.subject, 'subject', fail);
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') fail('artifactType: must be a string');
  if (doc.annotations !== undefined) {
    if (isObject(doc.annotations) && Object.values(doc.annotations).every((v) => typeof v === 'string')) out.annotations = doc.annotations as Record<string, string>;
    else fail('annotations: must map strings to strings');
  }
  return out;
}

/** A pushed manifest, checked as the registry accepts it; throws InvalidManifestError. */
export function parseManifest(bytes: Buffer, contentType: string | undefined): Manifest {
  return readManifest(bytes, contentType, throwing);
}

/**
 * Manifest bytes stored before (or received from a peer), under the media type they were stored
 * with, if known: never throws; a part that is malformed references nothing.
 */
export function readStoredManifest(bytes: Buffer, mediaType?: string): Manifest {
  return readManifest(bytes, mediaType, skipping);
}

/** Everything that must be present before the manifest: its blobs, then its child manifests. */
export function manifestReferences(manifest: Manifest): Digest[] {
  return [...manifest.blobs, ...manifest.children];
}

/** The descriptor the referrers API lists for this manifest. */
export function referrerDescriptor(manifest: Manifest, digest: Digest, size: number): ReferrerDescriptor {
  const d: ReferrerDescriptor = { mediaType: manifest.mediaType, digest: digest.value, size };
  if (manifest.artifactType !== undefined) d.artifactType = manifest.artifactType;
  if (manifest.annotations !== undefined) d.annotations = manifest.annotations;
  return d;
}
