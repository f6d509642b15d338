// Adds and removes one query parameter without re-encoding the rest: registries sign their own
// upload state into the query (distribution's `_state`), so every other byte must pass unchanged.

/** Splits `path?query#fragment`; the query and fragment exclude their `?`/`#`. */
function splitUrl(url: string): { base: string; query: string | undefined; fragment: string } {
  const hash = url.indexOf('#');
  const fragment = hash === -1 ? '' : url.slice(hash);
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf('?');
  if (q === -1) return { base: beforeHash, query: undefined, fragment };
  return { base: beforeHash.slice(0, q), query: beforeHash.slice(q + 1), fragment };
}

function keyOf(pair: string): string {
  const eq = pair.indexOf('=');
  return eq === -1 ? pair : pair.slice(0, eq);
}

function decodeValue(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export interface TakenParam {
  /** Every value of the parameter, in order (a client that appended a second copy sends two). */
  values: string[];
  /** The URL with the parameter removed and everything else byte for byte as it was. */
  url: string;
}

/** Removes every occurrence of `name` from the URL's query, returning the values it had. */
export function takeQueryParam(url: string, name: string): TakenParam {
  const { base, query, fragment } = splitUrl(url);
  if (query === undefined) return { values: [], url };
  const values: string[] = [];
  const kept: string[] = [];
  for (const pair of query.split('&')) {
    if (keyOf(pair) === name) {
      const eq = pair.indexOf('=');
      values.push(eq === -1 ? '' : (decodeValue(pair.slice(eq + 1)) ?? '\uFFFD'));
    } else {
      kept.push(pair);
    }
  }
  if (values.length === 0) return { values, url };
  const rest = kept.filter((pair) => pair !== '').join('&');
  return { values, url: `${base}${rest === '' ? '' : `?${rest}`}${fragment}` };
}

/** Sets `name=value` on the URL (replacing any earlier value); `value` must be URL-safe. */
export function setQueryParam(url: string, name: string, value: string): string {
  const stripped = takeQueryParam(url, name).url;
  const { base, query, fragment } = splitUrl(stripped);
  const pair = `${name}=${value}`;
  return `${base}?${query === undefined || query === '' ? pair : `${query}&${pair}`}${fragment}`;
}
