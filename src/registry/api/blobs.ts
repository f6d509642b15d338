// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
import { OciError } from '../../errors/oci-codes.js';
import type { Digest } from '../../oci/digest.js';
import { DIGEST_HEADER } from '../../oci/protocol-headers.js';
import { methodNotAllowed, refuseIfDeleted, requireDeleteEnabled, requireDigest, type ApiContext, type ApiRequest, awaitHook } from './context.js';
import { parseRangeHeader } from './range.js';

async function sizeOrFetch(ctx: ApiContext, r: ApiRequest, name: string, digest: Digest): Promise<number> {
  let size = await ctx.store.blobs.stat(name, digest);
  if (size !== undefined) return size;
  const detail = { digest: digest.value };
  refuseIfDeleted(ctx, name, { blob: digest }, 'BLOB_UNKNOWN', detail);
  if (await ctx.hooks.onMissingBlob(name, digest, r.req.headers)) size = await ctx.store.blobs.stat(name, digest);
  if (size === undefined) throw new OciError('BLOB_UNKNOWN', undefined, detail);
  return size;
}

export async function handleBlob(ctx: ApiContext, r: ApiRequest, name: string, rawDigest: string): Promise<void> {
  const { req, res } = r;
  const method = req.method;
  if (method === 'DELETE') return deleteBlob(ctx, r, name, rawDigest);
  if (method !== 'GET' && method !== 'HEAD') methodNotAllowed(method);
  const digest = requireDigest(rawDigest);
  const size = await sizeOrFetch(ctx, r, name, digest);
  const range = method === 'GET' ? parseRangeHeader(req.headers.range, size) : undefined;
  if (range === 'unsatisfiable') {
    throw new OciError('RANGE_INVALID', `range ${req.headers.range} not satisfiable for ${size} bytes`, undefined, 416);
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    [DIGEST_HEADER]: digest.value,
    'accept-ranges': 'bytes',
    etag: `"${digest.value}"`,
    'cache-control': 'max-age=31536000',
  };
  if (method === 'HEAD') {
    headers['content-length'] = size;
    res.writeHead(200, headers);
    res.end();
    return;
  }
  if (redirected(ctx, r, digest)) return;
  const file = await ctx.store.blobs.open(name, digest);
  try {
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range) {
      headers['content-length'] = end - start + 1;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
      res.writeHead(206, headers);
    } else {
      headers['content-length'] = size;
      res.writeHead(200, headers);
    }
    // On a failure mid-body the boundary destroys the socket: the client sees a reset, never a
    // truncated body that looks complete.
    await file.copyTo(res, start, end);
    res.end();
  } finally {
    await file.close();
  }
}

/**
 * With `registry.s3.redirect`, a GET is answered with a 307 to a presigned URL of the bucket:
 * the client downloads from S3 (Range and all), the registry only checked that the repository
 * holds the blob. The digest header lets a client verify what it is about to fetch.
 */
function redirected(ctx: ApiContext, r: ApiRequest, digest: Digest): boolean {
  if (ctx.blobRedirectMs === undefined) return false;
  const url = ctx.store.blobs.downloadUrl(digest, ctx.blobRedirectMs);
  if (url === undefined) return false;
  r.res.writeHead(307, { location: url, 'docker-content-digest': digest.value, 'content-length': 0 });
  r.res.end();
  return true;
}

async function deleteBlob(ctx: ApiContext, r: ApiRequest, name: string, rawDigest: string): Promise<void> {
  requireDeleteEnabled(ctx);
  const digest = requireDigest(rawDigest);
  const event = { kind: 'blob', repo: name, digest, headers: r.req.headers } as const;
  if (!(await ctx.store.blobs.unlink(name, digest))) {
    // Reported all the same: a peer's delete leaves its tombstone here (see hooks.ts).
    await awaitHook(ctx.hooks.afterDelete({ ...event, missing: true }));
    throw new OciError('BLOB_UNKNOWN', undefined, { digest: digest.value });
  }
  await awaitHook(ctx.hooks.afterDelete(event));
  r.res.writeHead(202, { 'content-length': 0, [DIGEST_HEADER]: digest.value });
  r.res.end();
}
