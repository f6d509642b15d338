// GET /v2/_catalog?n=&last=
import { methodNotAllowed, type ApiContext, type ApiRequest } from './context.js';
import { nextLink, pageQuery, paginate, type Page } from './pagination.js';

export async function handleCatalog(ctx: ApiContext, r: ApiRequest): Promise<void> {
  if (r.req.method !== 'GET' && r.req.method !== 'HEAD') methodNotAllowed(r.req.method);
  const query = pageQuery(r.query);
  // With `n`, only the page is read from storage (the catalog of a big registry is costly).
  const page = query.n === undefined ? paginate(await ctx.store.catalog(), query) : await catalogPage(ctx, query.n, query.last);
  const body = JSON.stringify({ repositories: page.items });
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (page.next !== undefined && query.n !== undefined) headers.link = nextLink('/v2/_catalog', query.n, page.next);
  r.res.writeHead(200, headers);
  r.res.end(r.req.method === 'HEAD' ? undefined : body);
}

async function catalogPage(ctx: ApiContext, n: number, last: string | undefined): Promise<Page<string>> {
  const { items, more } = await ctx.store.catalogPage(n, last);
  return more ? { items, next: items[items.length - 1] } : { items };
}
