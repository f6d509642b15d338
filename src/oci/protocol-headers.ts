// The distribution-spec's own response headers, named once for the registry (which sets them),
// replication's peer client and the proxy (which read them). The headers replicas add between
// themselves are in replication-headers.ts.

/** The digest of the manifest or blob a response is about. */
export const DIGEST_HEADER = 'docker-content-digest';
/** Set on every registry response; clients probe `/v2/` for it. */
export const API_VERSION_HEADER = 'docker-distribution-api-version';
export const API_VERSION = 'registry/2.0';
/** The id of an upload session (docker's, kept for old clients). */
export const UPLOAD_UUID_HEADER = 'docker-upload-uuid';
/** A manifest PUT's answer: the pushed manifest's `subject` (distribution-spec 1.1). */
export const OCI_SUBJECT_HEADER = 'oci-subject';
/** A push by digest with `?tag=`: the tags that were set (distribution-spec 1.1). */
export const OCI_TAG_HEADER = 'oci-tag';
/** A referrers answer filtered by `artifactType`. */
export const OCI_FILTERS_APPLIED_HEADER = 'oci-filters-applied';
