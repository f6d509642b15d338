// The on-disk layout, documented in one place next to the one pure function that builds paths.
// Every path below is relative to the storage root; callers never concatenate paths themselves,
// so a validated repository name and a validated digest are the only inputs that reach the disk
// (besides names storage listed from its own directories: an algorithm, a prefix, an upload id or
// a temporary file's name, one path component each).
//
//   <root>/
//     blobs/<alg>/<hex[0:2]>/<hex>/data                     content-addressed bytes (layers, configs,
//                                                          and manifests too), written once, renamed
//                                                          into place after the digest was verified
//     repositories/<name>/                                  <name> may contain slashes (a/b/c)
//       _layers/<alg>/<hex>/link                            "<alg>:<hex>": this repo may serve the blob
//       _manifests/revisions/<alg>/<hex>/link               JSON {digest, mediaType, size}: this repo
//                                                          holds the manifest, with the pushed media type
//       _manifests/tags/<tag>/current/link                  "<alg>:<hex>" the tag points at
//       _referrers/<alg>/<subject-hex>/<alg>-<hex>          JSON descriptor of a manifest whose
//                                                          `subject` is <alg>:<subject-hex>
//       _uploads/<uuid>/data                                bytes received so far (may hold a torn
//                                                          tail after a crash: only `state.size` counts)
//       _uploads/<uuid>/state                               JSON {startedAt, size}: replaced atomically
//                                                          after each chunk is fsynced
//       _uploads/<uuid>/data.s3-append/<size>               S3 only: the multipart upload's state at
//                                                          that size (s3-append.ts)
//     _tmp/<random>                                         temporary files before their atomic rename
//     _replication/                                         replication's own state (src/registry/replication),
//                                                          each record a JSON file replaced atomically
//       epoch.json                                          {epoch}: this replica's storage identity
//       stamps/<key>.json                                   the last write or delete of a tag, manifest
//                                                          or blob link (<key>: hash of repo + reference)
//       queue/<peer>/<key>.json                             a copy owed to a peer (<peer>: hash of its URL)
//
// Path components of a repository name always start with [a-z0-9] (spec grammar), so the
// `_`-prefixed directories can never collide with a repository component.
import type { Digest } from '../../oci/digest.js';

const BLOBS_DIR = 'blobs';
const REPOSITORIES_DIR = 'repositories';
const TMP_DIR = '_tmp';
const REPLICATION_DIR = '_replication';

export type StoragePath =
  | { kind: 'blobsDir' }
  /** `blobs/<alg>`, and `blobs/<alg>/<prefix>` with a prefix. */
  | { kind: 'blobsListing'; algorithm: string; prefix?: string }
  | { kind: 'blobDir'; digest: Digest }
  | { kind: 'blobData'; digest: Digest }
  | { kind: 'repositoriesDir' }
  | { kind: 'repo'; repo: string }
  | { kind: 'layerLink'; repo: string; digest: Digest }
  | { kind: 'layerDir'; repo: string; digest: Digest }
  /** `_layers`, and `_layers/<alg>` with an algorithm. */
  | { kind: 'layersDir'; repo: string; algorithm?: string }
  /** `_manifests/revisions`, and `_manifests/revisions/<alg>` with an algorithm. */
  | { kind: 'revisionsDir'; repo: string; algorithm?: string }
  | { kind: 'revisionDir'; repo: string; digest: Digest }
  | { kind: 'revisionLink'; repo: string; digest: Digest }
  | { kind: 'tagsDir'; repo: string }
  | { kind: 'tagDir'; repo: string; tag: string }
  | { kind: 'tagLink'; repo: string; tag: string }
  | { kind: 'referrersDir'; repo: string; subject: Digest }
  | { kind: 'referrerEntry'; repo: string; subject: Digest; digest: Digest }
  | { kind: 'uploadsDir'; repo: string }
  | { kind: 'uploadDir'; repo: string; id: string }
  | { kind: 'uploadData'; repo: string; id: string }
  | { kind: 'uploadState'; repo: string; id: string }
  | { kind: 'tmpDir' }
  | { kind: 'tmpFile'; name: string }
  | { kind: 'replicationEpoch' }
  | { kind: 'replicationStamps' }
  | { kind: 'replicationStamp'; key: string }
  | { kind: 'replicationQueue'; peer: string }
  | { kind: 'replicationTask'; peer: string; key: string };

/** The digest string a referrer entry's name (`<alg>-<hex>`) stands for; parse it (a stray file names none). */
export function referrerEntryDigest(name: string): string {
  return name.replace('-', ':');
}

/** The relative path (POSIX separators) of a storage object. Pure; inputs must be validated. */
export function storagePath(p: StoragePath): string {
  switch (p.kind) {
    case 'blobsDir':
      return BLOBS_DIR;
    case 'blobsListing':
      return p.prefix === undefined ? `${BLOBS_DIR}/${p.algorithm}` : `${BLOBS_DIR}/${p.algorithm}/${p.prefix}`;
    case 'blobDir':
      return `${BLOBS_DIR}/${p.digest.algorithm}/${p.digest.hex.slice(0, 2)}/${p.digest.hex}`;
    case 'blobData':
      return `${BLOBS_DIR}/${p.digest.algorithm}/${p.digest.hex.slice(0, 2)}/${p.digest.hex}/data`;
    case 'repositoriesDir':
      return REPOSITORIES_DIR;
    case 'repo':
      return `${REPOSITORIES_DIR}/${p.repo}`;
    case 'layersDir':
      return p.algorithm === undefined ? `${REPOSITORIES_DIR}/${p.repo}/_layers` : `${REPOSITORIES_DIR}/${p.repo}/_layers/${p.algorithm}`;
    case 'layerDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_layers/${p.digest.algorithm}/${p.digest.hex}`;
    case 'layerLink':
      return `${REPOSITORIES_DIR}/${p.repo}/_layers/${p.digest.algorithm}/${p.digest.hex}/link`;
    case 'revisionsDir':
      return p.algorithm === undefined ? `${REPOSITORIES_DIR}/${p.repo}/_manifests/revisions` : `${REPOSITORIES_DIR}/${p.repo}/_manifests/revisions/${p.algorithm}`;
    case 'revisionDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests/revisions/${p.digest.algorithm}/${p.digest.hex}`;
    case 'revisionLink':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests/revisions/${p.digest.algorithm}/${p.digest.hex}/link`;
    case 'tagsDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests/tags`;
    case 'tagDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests/tags/${p.tag}`;
    case 'tagLink':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests/tags/${p.tag}/current/link`;
    case 'referrersDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_referrers/${p.subject.algorithm}/${p.subject.hex}`;
    case 'referrerEntry':
      return `${REPOSITORIES_DIR}/${p.repo}/_referrers/${p.subject.algorithm}/${p.subject.hex}/${p.digest.algorithm}-${p.digest.hex}`;
    case 'uploadsDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads`;
    case 'uploadDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}`;
    case 'uploadData':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}/data`;
    case 'uploadState':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}/state`;
    case 'tmpDir':
      return TMP_DIR;
    case 'tmpFile':
      return `${TMP_DIR}/${p.name}`;
    case 'replicationEpoch':
      return `${REPLICATION_DIR}/epoch.json`;
    case 'replicationStamps':
      return `${REPLICATION_DIR}/stamps`;
    case 'replicationStamp':
      return `${REPLICATION_DIR}/stamps/${p.key}.json`;
    case 'replicationQueue':
      return `${REPLICATION_DIR}/queue/${p.peer}`;
    case 'replicationTask':
      return `${REPLICATION_DIR}/queue/${p.peer}/${p.key}.json`;
  }
}
