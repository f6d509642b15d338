// GET /v2/<name>/tags/list?n=&last=
import { OciError } from '../../errors/oci-codes.js';
import { methodNotAllowed, type ApiContext, type ApiRequest } from './context.js';
import { nextLink, pageQuery, paginate } from './pagination.js';

export async function handleTags(ctx: ApiContext, r: ApiRequest, name: string): Promise<void> {
  if (r.req.method !== 'GET' && r.req.method !== 'HEAD') methodNotAllowed(r.req.method);
  const query = pageQuery(r.query);
  const all = await ctx.store.manifests.listTags(name);
  if (all.length === 0 && !(await ctx.store.repoExists(name))) throw new OciError('NAME_UNKNOWN', undefined, { name });
  const page = paginate(all, query);
  const body = JSON.stringify({ name, tags: page.items });
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (page.next !== undefined && query.n !== undefined) headers.link = nextLink(`/v2/${name}/tags/list`, query.n, page.next);
  r.res.writeHead(200, headers);
  r.res.end(r.req.method === 'HEAD' ? undefined : body);
}
