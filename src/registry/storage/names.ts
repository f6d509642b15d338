// Upload session ids as this registry mints them (randomUUID). Anything else in the id position of
// a path is unknown to us, and never reaches the filesystem. Repository names and tags follow the
// spec's grammar in src/oci/grammar.ts.
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidUploadId(id: string): boolean {
  return UPLOAD_ID_RE.test(id);
}
