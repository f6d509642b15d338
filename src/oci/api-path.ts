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
  // Read from the right by index, not split('/') and join(): the proxy parses every request, and
  // the arrays cost about half a microsecond of its ~80 us per small GET (CPU profile, Node 20).
  // cut1..cut3 are the slashes before the last, second-last and third-last segments; the one
  // after `/v2` is at index 3.
  const cut1 = path.lastIndexOf('/');
  if (cut1 === 3) return NOT_FOUND;
  const last = decode(path.slice(cut1 + 1));
  if (last === undefined) return NOT_FOUND;
  const cut2 = path.lastIndexOf('/', cut1 - 1);
  const prev = path.slice(cut2 + 1, cut1);
  const nameBefore = (cut: number) => path.slice(4, Math.max(4, cut));
  if (cut2 > 3 && prev === 'uploads') {
    const cut3 = path.lastIndexOf('/', cut2 - 1);
    if (path.slice(cut3 + 1, cut2) === 'blobs') {
      const name = nameBefore(cut3);
      return last === '' ? { kind: 'uploads', name } : { kind: 'upload', name, id: last };
    }
  }
  if (prev === 'blobs' && last === 'uploads') return { kind: 'uploads', name: nameBefore(cut2) };
  if (prev === 'tags' && last === 'list') return { kind: 'tags', name: nameBefore(cut2) };
  if (prev === 'manifests') return { kind: 'manifest', name: nameBefore(cut2), reference: last };
  if (prev === 'blobs') return { kind: 'blob', name: nameBefore(cut2), digest: last };
  if (prev === 'referrers') return { kind: 'referrers', name: nameBefore(cut2), digest: last };
  return NOT_FOUND;
}
