// GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>   (reference: a tag or a digest)
import type { IncomingMessage } from 'node:http';
import { OciError } from '../../errors/oci-codes.js';
import { digestOf, parseDigest, type Digest } from '../../oci/digest.js';
import type { ManifestRecord } from '../storage/manifest-store.js';
import { isDigest, isTag } from '../../oci/grammar.js';
import { InvalidManifestError, parseManifest, referrerDescriptor, type Manifest } from '../../oci/manifest.js';
import { DIGEST_HEADER, OCI_SUBJECT_HEADER, OCI_TAG_HEADER } from '../../oci/protocol-headers.js';
import { methodNotAllowed, refuseIfDeleted, requireDeleteEnabled, type ApiContext, type ApiRequest, awaitHook } from './context.js';
import type { DeleteEvent, ManifestReference } from './hooks.js';

export function parseReference(reference: string): ManifestReference {
  if (isTag(reference)) return { tag: reference };
  const digest = parseDigest(reference);
  if (digest) return { digest };
  if (isDigest(reference)) throw new OciError('DIGEST_INVALID', `unsupported or malformed digest: ${reference}`);
  throw new OciError('MANIFEST_INVALID', `invalid reference (neither a tag nor a digest): ${reference}`, undefined, 400);
}

async function lookup(ctx: ApiContext, name: string, ref: ManifestReference): Promise<ManifestRecord | undefined> {
  const digest = 'digest' in ref ? ref.digest : await ctx.store.manifests.resolveTag(name, ref.tag);
  return digest ? ctx.store.manifests.get(name, digest) : undefined;
}

export async function handleManifest(ctx: ApiContext, r: ApiRequest, name: string, reference: string): Promise<void> {
  const method = r.req.method;
  if (method === 'GET' || method === 'HEAD') return getManifest(ctx, r, name, reference, method === 'HEAD');
  if (method === 'PUT') return putManifest(ctx, r, name, reference);
  if (method === 'DELETE') return deleteManifest(ctx, r, name, reference);
  methodNotAllowed(method);
}

async function getManifest(ctx: ApiContext, r: ApiRequest, name: string, reference: string, head: boolean): Promise<void> {
  const ref = parseReference(reference);
  let record = await lookup(ctx, name, ref);
  if (!record) {
    refuseIfDeleted(ctx, name, ref, 'MANIFEST_UNKNOWN', { name, reference });
    if (await ctx.hooks.onMissingManifest(name, ref, r.req.headers)) record = await lookup(ctx, name, ref);
  }
  if (!record) throw new OciError('MANIFEST_UNKNOWN', undefined, { name, reference });
  r.res.writeHead(200, {
    'content-type': record.mediaType,
    'content-length': record.size,
    [DIGEST_HEADER]: record.digest.value,
    etag: `"${record.digest.value}"`,
  });
  r.res.end(head ? undefined : record.bytes);
}

/**
 * Reads the body, refusing more than `limit` bytes (413) without buffering them. Not `for await`:
 * leaving that loop destroys the request, and with it the socket the 413 has to go out on (the
 * access log then found `req.socket` null and the process died). On overflow the reader stops
 * listening; the boundary answers with `Connection: close` and Node discards the rest.
 */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  const tooLarge = () => new OciError('SIZE_INVALID', `manifest exceeds the ${limit}-byte limit`, { limit }, 413);
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      reject(tooLarge());
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => {
      if (req.complete) return;
      stop();
      reject(Object.assign(new Error('the client went away mid-manifest'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The pushed manifest as the registry accepts it, or MANIFEST_INVALID. */
function parsePushed(bytes: Buffer, contentType: string | undefined): Manifest {
  try {
    return parseManifest(bytes, contentType);
  } catch (err) {
    if (err instanceof InvalidManifestError) throw new OciError('MANIFEST_INVALID', err.message);
    throw err;
  }
}

/**
 * `?tag=a&tag=b` on a push by digest (distribution-spec 1.1): tags to point at the manifest in
 * the same request, each answered with an `OCI-Tag` header. Checked before the body is read.
 */
function queryTags(r: ApiRequest, ref: ManifestReference): string[] {
  const tags = r.query.getAll('tag');
  if (tags.length === 0) return [];
  if ('tag' in ref) throw new OciError('MANIFEST_INVALID', 'the tag query parameter is only allowed on a push by digest', undefined, 400);
  for (const tag of tags) if (!isTag(tag)) throw new OciError('MANIFEST_INVALID', `invalid tag in the tag query parameter: ${tag}`, { tag }, 400);
  return [...new Set(tags)];
}

async function putManifest(ctx: ApiContext, r: ApiRequest, name: string, reference: string): Promise<void> {
  const { req, res } = r;
  const ref = parseReference(reference);
  const queried = queryTags(r, ref);
  const bytes = await readLimited(req, ctx.maxManifestBytes);
  const manifest = parsePushed(bytes, req.headers['content-type']);
  let digest: Digest;
  if ('digest' in ref) {
    digest = digestOf(ref.digest.algorithm, bytes);
    if (digest.value !== ref.digest.value) {
      throw new OciError('DIGEST_INVALID', 'the manifest does not match the digest in the URL', { expected: ref.digest.value, actual: digest.value });
    }
  } else {
    digest = digestOf('sha256', bytes);
  }
  for (const blob of manifest.blobs) {
    // A blob missing here may sit on a peer replica (a push that spanned a failover): the
    // on-demand hook may fetch it before the push is refused.
    if ((await ctx.store.blobs.stat(name, blob)) === undefined && !(await ctx.hooks.onMissingBlob(name, blob, req.headers, 'manifest-put'))) {
      throw new OciError('MANIFEST_BLOB_UNKNOWN', undefined, { digest: blob.value });
    }
  }
  const tags = 'tag' in ref ? [ref.tag] : queried;
  const scope = await ctx.hooks.beforeManifestCommit({ repo: name, digest, tags, headers: req.headers });
  if (scope.manifest) {
    const referrer = manifest.subject ? { subject: manifest.subject, descriptor: referrerDescriptor(manifest, digest, bytes.length) } : undefined;
    for (const tag of scope.tags.length > 0 ? scope.tags : [undefined]) {
      await ctx.store.manifests.put(name, { bytes, digest, mediaType: manifest.mediaType, manifest, tag, referrer });
    }
    // A hook call per tag: each is its own tag write for replication (stamp, queue, write concern).
    // Started together: each tag is queued for the peers even when another one's ack fails.
    await Promise.all((tags.length > 0 ? tags : [undefined]).map((tag) => awaitHook(ctx.hooks.afterManifestCommit({
      repo: name,
      reference: tag ?? digest.value,
      tag,
      digest,
      mediaType: manifest.mediaType,
      size: bytes.length,
      bytes,
      manifest,
      headers: req.headers,
    }))));
  }
  const headers: Record<string, string | number | string[]> = {
    location: `/v2/${name}/manifests/${digest.value}`,
    [DIGEST_HEADER]: digest.value,
    'content-length': 0,
  };
  if (manifest.subject) headers[OCI_SUBJECT_HEADER] = manifest.subject.value;
  if (queried.length > 0) headers[OCI_TAG_HEADER] = queried;
  res.writeHead(201, headers);
  res.end();
}

async function deleteManifest(ctx: ApiContext, r: ApiRequest, name: string, reference: string): Promise<void> {
  requireDeleteEnabled(ctx);
  const ref = parseReference(reference);
  const headers = r.req.headers;
  const unknown = async (event: DeleteEvent): Promise<never> => {
    await awaitHook(ctx.hooks.afterDelete({ ...event, missing: true }));
    throw new OciError('MANIFEST_UNKNOWN', undefined, { name, reference });
  };
  if ('tag' in ref) {
    const event: DeleteEvent = { kind: 'tag', repo: name, tag: ref.tag, headers };
    if (!(await ctx.store.manifests.deleteTag(name, ref.tag))) return unknown(event);
    await awaitHook(ctx.hooks.afterDelete(event));
  } else {
    const removed = await ctx.store.manifests.delete(name, ref.digest);
    if (!removed) return unknown({ kind: 'manifest', repo: name, digest: ref.digest, tags: [], headers });
    await awaitHook(ctx.hooks.afterDelete({ kind: 'manifest', repo: name, digest: ref.digest, tags: removed.tags, headers }));
  }
  r.res.writeHead(202, { 'content-length': 0 });
  r.res.end();
}
