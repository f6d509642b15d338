// The distribution-spec v1.1 grammars for repository names, tags and digests, in one place for
// the proxy (routing) and the registry (validation). Every name component starts with [a-z0-9]
// and only [a-z0-9._-] follow, so a valid name has no `..` component, no absolute path and no
// backslash: it can never reach outside a storage directory.

// <name> = [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// <digest> = algorithm ":" encoded; the algorithms we can verify are checked where content is.
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** distribution's limit (reference.NameTotalLengthMax): name plus host within 255 characters. */
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function isTag(value: string): boolean {
  return TAG_RE.test(value);
}

/** Digest syntax only (any algorithm); whether we support the algorithm is a separate question. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}
