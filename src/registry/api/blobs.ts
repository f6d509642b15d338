// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
import { pipeline } from 'node:stream/promises';
import { OciError } from '../../errors/oci-codes.js';
import type { Digest } from '../storage/digest.js';
import { methodNotAllowed, requireDeleteEnabled, requireDigest, type ApiContext, type ApiRequest, awaitHook } from './context.js';
import { parseRangeHeader } from './range.js';

async function sizeOrFetch(ctx: ApiContext, r: ApiRequest, name: string, digest: Digest): Promise<number> {
  let size = await ctx.store.blobs.stat(name, digest);
  if (size === undefined && (await ctx.hooks.onMissingBlob(name, digest, r.req.headers))) size = await ctx.store.blobs.stat(name, digest);
  if (size === undefined) throw new OciError('BLOB_UNKNOWN', undefined, { digest: digest.value });
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
    'docker-content-digest': digest.value,
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
  const stream = await ctx.store.blobs.read(name, digest, size === 0 ? undefined : range ?? { start: 0, end: size - 1 });
  if (range) {
    headers['content-length'] = range.end - range.start + 1;
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    res.writeHead(206, headers);
  } else {
    headers['content-length'] = size;
    res.writeHead(200, headers);
  }
  // pipeline gives backpressure and destroys both ends if either fails (a truncated body is
  // then visible to the client as a reset, never as a complete-looking response).
  await pipeline(stream, res);
}

async function deleteBlob(ctx: ApiContext, r: ApiRequest, name: string, rawDigest: string): Promise<void> {
  requireDeleteEnabled(ctx);
  const digest = requireDigest(rawDigest);
  if (!(await ctx.store.blobs.unlink(name, digest))) throw new OciError('BLOB_UNKNOWN', undefined, { digest: digest.value });
  await awaitHook(ctx.hooks.afterDelete({ kind: 'blob', repo: name, digest, headers: r.req.headers }));
  r.res.writeHead(202, { 'content-length': 0, 'docker-content-digest': digest.value });
  r.res.end();
}
