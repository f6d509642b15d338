// What every handler receives. Built once at start-up (no per-request closures).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OciError, type OciErrorCode } from '../../errors/oci-codes.js';
import { isDigest } from '../../oci/grammar.js';
import { parseDigest, type Digest } from '../../oci/digest.js';
import type { ImageStore } from '../storage/image-store.js';
import { DELETED_HEADER } from '../../oci/replication-headers.js';
import { StorageError } from '../storage/storage-error.js';
import type { DeletedTarget, RegistryHooks } from './hooks.js';
import type { OpenSessions } from './upload-sessions.js';

export interface ApiContext {
  store: ImageStore;
  hooks: RegistryHooks;
  deleteEnabled: boolean;
  maxManifestBytes: number;
  sessions: OpenSessions;
  /** Blob GETs answered with a 307 to the storage's own URL, valid this long (registry.s3.redirect). */
  blobRedirectMs?: number;
}

export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Query string parameters (empty when there is none). */
  query: URLSearchParams;
  /** The client's address, for per-client limits (client-address.ts). */
  client: string;
}

/** A digest from the URL or query, or DIGEST_INVALID. */
export function requireDigest(value: string | null | undefined, what = 'digest'): Digest {
  const digest = value ? parseDigest(value) : undefined;
  if (!digest) {
    const why = value && isDigest(value) ? 'unsupported digest algorithm' : `invalid ${what}`;
    throw new OciError('DIGEST_INVALID', `${why}: ${value ?? '(missing)'}`, { digest: value ?? null });
  }
  return digest;
}

export function requireDeleteEnabled(ctx: ApiContext): void {
  if (!ctx.deleteEnabled) throw new OciError('UNSUPPORTED', 'deletes are disabled on this registry (registry.deleteEnabled)');
}

export function methodNotAllowed(method: string | undefined): never {
  throw new OciError('UNSUPPORTED', `method ${method ?? '?'} not allowed on this resource`);
}

/** True when the request announces a body (a length above zero, or chunked encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Awaits a replication hook; an OciError (or a storage fault, mapped at the boundary) passes
 * through (its code/status reach the client), any other failure becomes 503 UNAVAILABLE, as
 * documented in hooks.ts.
 */
export async function awaitHook(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OciError || err instanceof StorageError) throw err;
    throw new OciError('UNAVAILABLE', `replication failed: ${(err as Error).message}`);
  }
}

/**
 * Throws the 404 for an object deleted here (replication holds its tombstone): it carries the
 * delete's time in DELETED_HEADER, so the proxy asks no other replica and a peer leaves it deleted.
 * Returns when nothing was deleted: the caller may then try an on-demand fetch.
 */
export function refuseIfDeleted(ctx: ApiContext, repo: string, target: DeletedTarget, code: OciErrorCode, detail: unknown): void {
  const time = ctx.hooks.deletedAt(repo, target);
  if (time !== undefined) throw new OciError(code, undefined, detail, undefined, { [DELETED_HEADER]: String(time) });
}
