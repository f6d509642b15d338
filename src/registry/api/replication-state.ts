// GET /v2/_replication/state: a replica's replication epoch, for its peers' anti-entropy.
import { OciError } from '../../errors/oci-codes.js';
import { methodNotAllowed, type ApiContext, type ApiRequest } from './context.js';

export async function handleReplicationState(ctx: ApiContext, r: ApiRequest): Promise<void> {
  if (r.req.method !== 'GET') methodNotAllowed(r.req.method);
  const state = await ctx.hooks.replicationState(r.req.headers);
  if (state === undefined) throw new OciError('NAME_UNKNOWN', 'no such API endpoint', undefined, 404);
  const body = JSON.stringify(state);
  r.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  r.res.end(body);
}
