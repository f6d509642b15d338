// Maps a `/v2/...` request path to an OCI distribution API resource, for the registry (dispatch)
// and the proxy (routing). Pure. Repository names contain slashes and may contain words like
// `blobs`, so the path is read from the right: the last one to three segments name the resource,
// the rest is the name. Names are not validated here: callers check them with src/oci/grammar.ts.

export type ApiPath =
  | { kind: 'base' }
  | { kind: 'catalog' }
  /** Replica-to-replica only: a replica's replication epoch (never a repository: `_` cannot start a name). */
  | { kind: 'replicationState' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'notFound' };

const NOT_FOUND: ApiPath = { kind: 'notFound' };
const BASE: ApiPath = { kind: 'base' };
const CATALOG: ApiPath = { kind: 'catalog' };
const REPLICATION_STATE: ApiPath = { kind: 'replicationState' };

function decode(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** `path` is the request path without the query string. */
export function parseApiPath(path: string): ApiPath {
  if (!path.startsWith('/v2')) return NOT_FOUND;
  if (path === '/v2/' || path === '/v2') return BASE;
  if (path.charCodeAt(3) !== 47 /* / */) return NOT_FOUND;
  if (path === '/v2/_catalog') return CATALOG;
  if (path === '/v2/_replication/state') return REPLICATION_STATE;
  const segs = path.slice(4).split('/');
  const n = segs.length;
  if (n < 2) return NOT_FOUND;
  const last = decode(segs[n - 1]);
  const prev = segs[n - 2];
  if (last === undefined) return NOT_FOUND;
  const nameOf = (drop: number) => segs.slice(0, n - drop).join('/');
  if (n >= 3 && segs[n - 3] === 'blobs' && prev === 'uploads') {
    const name = nameOf(3);
    return last === '' ? { kind: 'uploads', name } : { kind: 'upload', name, id: last };
  }
  if (prev === 'blobs' && last === 'uploads') return { kind: 'uploads', name: nameOf(2) };
  if (prev === 'tags' && last === 'list') return { kind: 'tags', name: nameOf(2) };
  if (prev === 'manifests') return { kind: 'manifest', name: nameOf(2), reference: last };
  if (prev === 'blobs') return { kind: 'blob', name: nameOf(2), digest: last };
  if (prev === 'referrers') return { kind: 'referrers', name: nameOf(2), digest: last };
  return NOT_FOUND;
}
