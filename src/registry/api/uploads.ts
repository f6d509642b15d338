// Blob uploads:
//   POST   /v2/<name>/blobs/uploads/                  start a session (202), monolithic with
//                                                    ?digest= (201), or mount ?mount=&from= (201,
//                                                    else a normal session)
//   PATCH  /v2/<name>/blobs/uploads/<id>             append a chunk (202; 416 when out of order)
//   PUT    /v2/<name>/blobs/uploads/<id>?digest=     optional last chunk, then commit (201)
//   GET    /v2/<name>/blobs/uploads/<id>             status (204 with Range)
//   DELETE /v2/<name>/blobs/uploads/<id>             cancel (204)
import type { ServerResponse } from 'node:http';
import { OciError } from '../../errors/oci-codes.js';
import { isRepositoryName } from '../../oci/grammar.js';
import { DIGEST_HEADER, UPLOAD_UUID_HEADER } from '../../oci/protocol-headers.js';
import type { ChunkRange, UploadStatus } from '../storage/upload-store.js';
import type { BlobInfo } from '../storage/blob-store.js';
import { StorageError } from '../storage/storage-error.js';
import { hasBody, methodNotAllowed, requireDigest, type ApiContext, type ApiRequest, awaitHook } from './context.js';
import { parseContentRange, uploadRangeHeader } from './range.js';

function sessionHeaders(status: UploadStatus): Record<string, string | number> {
  return {
    location: `/v2/${status.repo}/blobs/uploads/${status.id}`,
    range: uploadRangeHeader(status.size),
    [UPLOAD_UUID_HEADER]: status.id,
    'content-length': 0,
  };
}

function created(res: ServerResponse, name: string, info: BlobInfo): void {
  res.writeHead(201, {
    location: `/v2/${name}/blobs/${info.digest.value}`,
    [DIGEST_HEADER]: info.digest.value,
    'content-length': 0,
  });
  res.end();
}

/** Content-Length as a number, or undefined when absent. */
function contentLength(r: ApiRequest): number | undefined {
  const raw = r.req.headers['content-length'];
  return raw === undefined ? undefined : Number(raw);
}

/** The chunk's range from Content-Range (checked against Content-Length), if given. */
function chunkRange(r: ApiRequest): ChunkRange | undefined {
  const range = parseContentRange(r.req.headers['content-range']);
  if (range === undefined) return undefined;
  if (range === 'invalid') throw new OciError('BLOB_UPLOAD_INVALID', `malformed Content-Range: ${r.req.headers['content-range']}`);
  const length = contentLength(r);
  if (length !== undefined && length !== range.end - range.start + 1) {
    throw new OciError('SIZE_INVALID', `Content-Range ${range.start}-${range.end} does not match Content-Length ${length}`);
  }
  // A chunked body has no Content-Length to check first: the store holds it to the range.
  return { start: range.start, length: range.end - range.start + 1 };
}

export async function handleUploadStart(ctx: ApiContext, r: ApiRequest, name: string): Promise<void> {
  if (r.req.method !== 'POST') methodNotAllowed(r.req.method);
  const { query, res } = r;
  const mount = query.get('mount');
  if (mount !== null) {
    const digest = requireDigest(mount, 'mount digest');
    const from = query.get('from');
    if (from !== null && from !== '') {
      if (!isRepositoryName(from)) throw new OciError('NAME_INVALID', `invalid from repository: ${from}`);
      if (await ctx.store.blobs.mount(from, name, digest)) {
        const size = (await ctx.store.blobs.stat(name, digest)) ?? 0;
        await awaitHook(ctx.hooks.afterBlobCommit({ repo: name, digest, size, headers: r.req.headers }));
        return created(res, name, { digest, size });
      }
    }
    // Source missing (or no `from`): the spec says fall back to a regular upload session.
  }
  const rawDigest = query.get('digest');
  if (rawDigest !== null) {
    const digest = requireDigest(rawDigest);
    const info = await ctx.store.blobs.put(name, r.req, digest, contentLength(r));
    await awaitHook(ctx.hooks.afterBlobCommit({ repo: name, digest, size: info.size, headers: r.req.headers }));
    return created(res, name, info);
  }
  ctx.sessions.admit(name, r.client);
  const status = await ctx.store.uploads.create(name);
  ctx.sessions.opened(name, status.id, r.client);
  res.writeHead(202, sessionHeaders(status));
  res.end();
}

export async function handleUploadSession(ctx: ApiContext, r: ApiRequest, name: string, id: string): Promise<void> {
  try {
    await onSession(ctx, r, name, id);
  } catch (err) {
    // The session is gone (finished elsewhere, purged) or was removed with a rejected digest.
    if (err instanceof StorageError && (err.fault.kind === 'uploadUnknown' || err.fault.kind === 'digestMismatch')) ctx.sessions.closed(name, id);
    throw err;
  }
}

async function onSession(ctx: ApiContext, r: ApiRequest, name: string, id: string): Promise<void> {
  const { req, res } = r;
  switch (req.method) {
    case 'GET': {
      const status = await ctx.store.uploads.status(name, id);
      res.writeHead(204, sessionHeaders(status));
      res.end();
      return;
    }
    case 'PATCH': {
      const status = await ctx.store.uploads.append(name, id, req, chunkRange(r));
      res.writeHead(202, sessionHeaders(status));
      res.end();
      return;
    }
    case 'PUT': {
      // Validate everything before consuming the body.
      const digest = requireDigest(r.query.get('digest'));
      const withChunk = hasBody(req);
      const range = withChunk ? chunkRange(r) : undefined;
      const info = await ctx.store.uploads.commit(name, id, digest, withChunk ? req : undefined, range);
      ctx.sessions.closed(name, id);
      await awaitHook(ctx.hooks.afterBlobCommit({ repo: name, digest, size: info.size, headers: req.headers }));
      return created(res, name, info);
    }
    case 'DELETE': {
      await ctx.store.uploads.cancel(name, id);
      ctx.sessions.closed(name, id);
      res.writeHead(204, { 'content-length': 0 });
      res.end();
      return;
    }
    default:
      methodNotAllowed(req.method);
  }
}
