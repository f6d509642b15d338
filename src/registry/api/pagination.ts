// `n`/`last` pagination shared by the tags list and the catalog. Pure.
import { OciError } from '../../errors/oci-codes.js';

export interface Page<T> {
  items: T[];
  /** The last item of this page when more remain (for the `Link` header). */
  next?: string;
}

export interface PageQuery {
  n?: number;
  last?: string;
}

/** Reads `n` and `last` from the query; a malformed `n` is a 400. */
export function pageQuery(params: URLSearchParams): PageQuery {
  const rawN = params.get('n');
  let n: number | undefined;
  if (rawN !== null && rawN !== '') {
    if (!/^\d+$/.test(rawN)) throw new OciError('UNSUPPORTED', 'n must be a non-negative integer', { n: rawN }, 400);
    n = Number(rawN);
  }
  const last = params.get('last') ?? undefined;
  return { n, last: last === '' ? undefined : last };
}

/** Items strictly after `last` (lexical order), at most `n` of them. `sorted` must be sorted. */
export function paginate(sorted: string[], query: PageQuery): Page<string> {
  let from = 0;
  if (query.last !== undefined) {
    const last = query.last;
    while (from < sorted.length && sorted[from] <= last) from++;
  }
  if (query.n === undefined) return { items: sorted.slice(from) };
  const items = sorted.slice(from, from + query.n);
  const more = from + query.n < sorted.length && items.length > 0;
  return more ? { items, next: items[items.length - 1] } : { items };
}

/** RFC 5988 `Link` header for the next page. */
export function nextLink(basePath: string, n: number, last: string): string {
  return `<${basePath}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}
