// Repository names and tags checked against the distribution-spec grammar. Because every component
// must start with [a-z0-9] and only [a-z0-9._-] follow, no name can contain `..`-only components,
// absolute paths or backslashes: a valid name can never reach outside the storage directory.

// <name> = [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** distribution's limit: the name plus host must fit in 255 characters for most clients. */
export const MAX_NAME_LENGTH = 255;
/** A simple id shape for upload sessions (a UUID from randomUUID). */
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidRepoName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function isValidUploadId(id: string): boolean {
  return UPLOAD_ID_RE.test(id);
}
