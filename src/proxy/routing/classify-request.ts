// Recognises the OCI distribution API in a request path, so routing can follow repositories and
// upload sessions. Repository names contain slashes and may themselves contain words like
// `blobs` or `uploads`, so the path is read from the right: the endpoint is fixed by the last one
// to three segments, and whatever is left of it must be a valid name (distribution-spec v1.1).

/** `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` from the spec. */
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
// distribution's router accepts these characters in an upload id; a slash never appears in one.
const UPLOAD_ID_RE = /^[a-zA-Z0-9._=-]+$/;
// Names longer than this are refused by distribution (reference.NameTotalLengthMax).
const NAME_MAX_LENGTH = 255;

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

export type RegistryRequestKind = RegistryRequest['kind'];

export function isRepositoryName(name: string): boolean {
  return name.length <= NAME_MAX_LENGTH && NAME_RE.test(name);
}

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** The path part of a request target (no query, no fragment). */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function safeDecode(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Classifies a request target such as `/v2/library/ubuntu/manifests/latest?x=y`. */
export function classifyRequest(url: string): RegistryRequest {
  const path = pathOf(url);
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return { kind: 'plain' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };

  const raw = path.slice(4).split('/');
  const segments: string[] = [];
  for (const part of raw) {
    const decoded = safeDecode(part);
    if (decoded === undefined) return { kind: 'api' };
    segments.push(decoded);
  }
  const n = segments.length;
  // A repository name needs at least one segment left of the endpoint.
  const nameBefore = (endpointLength: number): string | undefined => {
    if (n - endpointLength < 1) return undefined;
    const name = segments.slice(0, n - endpointLength).join('/');
    return isRepositoryName(name) ? name : undefined;
  };

  const last = segments[n - 1];
  const secondLast = n >= 2 ? segments[n - 2] : undefined;
  const thirdLast = n >= 3 ? segments[n - 3] : undefined;

  // `.../blobs/uploads/` opens a session; the last segment is empty because of the trailing
  // slash clients send (some omit it).
  if (last === '' && secondLast === 'uploads' && thirdLast === 'blobs') {
    const name = nameBefore(3);
    if (name) return { kind: 'upload-start', name };
  }
  if (last === 'uploads' && secondLast === 'blobs') {
    const name = nameBefore(2);
    if (name) return { kind: 'upload-start', name };
  }
  if (secondLast === 'uploads' && thirdLast === 'blobs' && UPLOAD_ID_RE.test(last)) {
    const name = nameBefore(3);
    if (name) return { kind: 'upload-session', name, uploadId: last };
  }
  if (secondLast === 'blobs' && isDigest(last)) {
    const name = nameBefore(2);
    if (name) return { kind: 'blob', name, digest: last };
  }
  if (secondLast === 'manifests' && (TAG_RE.test(last) || isDigest(last))) {
    const name = nameBefore(2);
    if (name) return isDigest(last) ? { kind: 'manifest', name, reference: last, digest: last } : { kind: 'manifest', name, reference: last };
  }
  if (secondLast === 'tags' && last === 'list') {
    const name = nameBefore(2);
    if (name) return { kind: 'tags', name };
  }
  if (secondLast === 'referrers' && isDigest(last)) {
    const name = nameBefore(2);
    if (name) return { kind: 'referrers', name, digest: last };
  }
  return { kind: 'api' };
}

/** The repository a classified request belongs to, if any. */
export function repositoryOf(request: RegistryRequest): string | undefined {
  return 'name' in request ? request.name : undefined;
}
