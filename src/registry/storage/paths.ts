// The on-disk layout, documented in one place next to the one pure function that builds paths.
// Every path below is relative to the storage root; callers never concatenate paths themselves,
// so a validated repository name and a validated digest are the only inputs that reach the disk.
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

export const BLOBS_DIR = 'blobs';
export const REPOSITORIES_DIR = 'repositories';
export const TMP_DIR = '_tmp';
export const REPLICATION_DIR = '_replication';

export type StoragePath =
  | { kind: 'blobData'; digest: Digest }
  | { kind: 'repo'; repo: string }
  | { kind: 'layerLink'; repo: string; digest: Digest }
  | { kind: 'layersDir'; repo: string }
  | { kind: 'manifestsDir'; repo: string }
  | { kind: 'revisionLink'; repo: string; digest: Digest }
  | { kind: 'tagsDir'; repo: string }
  | { kind: 'tagDir'; repo: string; tag: string }
  | { kind: 'tagLink'; repo: string; tag: string }
  | { kind: 'referrersDir'; repo: string; subject: Digest }
  | { kind: 'referrerEntry'; repo: string; subject: Digest; digest: Digest }
  | { kind: 'uploadDir'; repo: string; id: string }
  | { kind: 'uploadData'; repo: string; id: string }
  | { kind: 'uploadState'; repo: string; id: string }
  | { kind: 'replicationEpoch' }
  | { kind: 'replicationStamps' }
  | { kind: 'replicationStamp'; key: string }
  | { kind: 'replicationQueue'; peer: string }
  | { kind: 'replicationTask'; peer: string; key: string };

/** The relative path (POSIX separators) of a storage object. Pure; inputs must be validated. */
export function storagePath(p: StoragePath): string {
  switch (p.kind) {
    case 'blobData':
      return `${BLOBS_DIR}/${p.digest.algorithm}/${p.digest.hex.slice(0, 2)}/${p.digest.hex}/data`;
    case 'repo':
      return `${REPOSITORIES_DIR}/${p.repo}`;
    case 'layersDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_layers`;
    case 'layerLink':
      return `${REPOSITORIES_DIR}/${p.repo}/_layers/${p.digest.algorithm}/${p.digest.hex}/link`;
    case 'manifestsDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_manifests`;
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
    case 'uploadDir':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}`;
    case 'uploadData':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}/data`;
    case 'uploadState':
      return `${REPOSITORIES_DIR}/${p.repo}/_uploads/${p.id}/state`;
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
