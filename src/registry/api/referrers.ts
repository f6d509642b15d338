// GET /v2/<name>/referrers/<digest>?artifactType=   -> an image index of the referring manifests
import { methodNotAllowed, requireDigest, type ApiContext, type ApiRequest } from './context.js';
import { MEDIA_TYPES } from '../../oci/media-types.js';
import { OCI_FILTERS_APPLIED_HEADER } from '../../oci/protocol-headers.js';

export async function handleReferrers(ctx: ApiContext, r: ApiRequest, name: string, rawDigest: string): Promise<void> {
  if (r.req.method !== 'GET' && r.req.method !== 'HEAD') methodNotAllowed(r.req.method);
  const subject = requireDigest(rawDigest);
  const artifactType = r.query.get('artifactType');
  let manifests = await ctx.store.manifests.referrers(name, subject);
  const headers: Record<string, string | number> = { 'content-type': MEDIA_TYPES.ociIndex };
  if (artifactType !== null && artifactType !== '') {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    headers[OCI_FILTERS_APPLIED_HEADER] = 'artifactType';
  }
  const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
  headers['content-length'] = Buffer.byteLength(body);
  r.res.writeHead(200, headers);
  r.res.end(r.req.method === 'HEAD' ? undefined : body);
}
