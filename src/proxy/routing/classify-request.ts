// Recognises the OCI distribution API in a request path, so routing can follow repositories and
// upload sessions: the registry's own path parser (src/oci/api-path.ts), plus the spec's grammar
// for names, tags and digests, since a proxy must not route on a name the registry would refuse.
import { parseApiPath } from '../../oci/api-path.js';
import { isDigest, isRepositoryName, isTag } from '../../oci/grammar.js';

// distribution's router accepts these characters in an upload id; a slash never appears in one.
const UPLOAD_ID_RE = /^[a-zA-Z0-9._=-]+$/;

export type RegistryRequest =
  /** `/v2/` or `/v2`: the API version check. */
  | { kind: 'base' }
  /** `/v2/_catalog`: names no single repository. */
  | { kind: 'catalog' }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string; digest?: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  /** `POST /v2/<name>/blobs/uploads/`: opens a session (or mounts, or uploads monolithically). */
  | { kind: 'upload-start'; name: string }
  /** `/v2/<name>/blobs/uploads/<id>`: a request on an open session. */
  | { kind: 'upload-session'; name: string; uploadId: string }
  /** A `/v2/...` path that is not a well-formed repository endpoint (the backend will say why). */
  | { kind: 'api' }
  /** Anything outside `/v2`: a web UI, a health page. */
  | { kind: 'plain' };

/** The path part of a request target (no query, no fragment). */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

const PLAIN: RegistryRequest = { kind: 'plain' };
const API: RegistryRequest = { kind: 'api' };
const BASE: RegistryRequest = { kind: 'base' };
const CATALOG: RegistryRequest = { kind: 'catalog' };

/** Classifies a request target such as `/v2/library/ubuntu/manifests/latest?x=y`. */
export function classifyRequest(url: string): RegistryRequest {
  const path = pathOf(url);
  if (path !== '/v2' && !path.startsWith('/v2/')) return PLAIN;
  const route = parseApiPath(path);
  if (route.kind === 'base') return BASE;
  if (route.kind === 'catalog') return CATALOG;
  if (route.kind === 'notFound' || route.kind === 'replicationState' || !isRepositoryName(route.name)) return API;
  const name = route.name;
  switch (route.kind) {
    case 'uploads':
      return { kind: 'upload-start', name };
    case 'upload':
      return UPLOAD_ID_RE.test(route.id) ? { kind: 'upload-session', name, uploadId: route.id } : API;
    case 'blob':
      return isDigest(route.digest) ? { kind: 'blob', name, digest: route.digest } : API;
    case 'manifest':
      if (isDigest(route.reference)) return { kind: 'manifest', name, reference: route.reference, digest: route.reference };
      return isTag(route.reference) ? { kind: 'manifest', name, reference: route.reference } : API;
    case 'tags':
      return { kind: 'tags', name };
    case 'referrers':
      return isDigest(route.digest) ? { kind: 'referrers', name, digest: route.digest } : API;
  }
}

/** The repository a classified request belongs to, if any. */
export function repositoryOf(request: RegistryRequest): string | undefined {
  return 'name' in request ? request.name : undefined;
}
