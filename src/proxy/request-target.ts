// Which request targets the proxy forwards, as a pure function of the request line. A backend
// is only ever sent origin form (`/path?query`): undici refuses anything else, and the routing
// (repository, upload token, digest check) reads the path.
//
//   origin form     `/v2/...`                -> forwarded as is
//   absolute form   `http://host:port/v2/...` -> normalised to `/v2/...`, Host := `host:port`
//                   (RFC 9112 s3.2.2: a server MUST use the target's authority, not Host; HAProxy
//                   normalises the same way), so such a request is routed like any other
//   anything else   `*` (OPTIONS *), `ftp://x/`, `*x`, authority form -> refused with 400

export type TargetCheck =
  | { readonly ok: true; readonly url: string; readonly host?: string }
  | { readonly ok: false; readonly reason: string };

/** `http(s)://authority` then the rest; the authority may not carry user info (RFC 9110 s4.2.4). */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@]+)(.*)$/is;
/** What undici accepts in a path: no controls, no spaces, nothing above U+00FF. */
const UNSENDABLE = /[^\u0021-\u00ff]/;

export function checkRequestTarget(target: string): TargetCheck {
  if (target.startsWith('/')) {
    return UNSENDABLE.test(target) ? { ok: false, reason: 'the request target holds characters that cannot be sent' } : { ok: true, url: target };
  }
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) {
    const [, host, rest] = absolute;
    if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) return { ok: false, reason: 'malformed absolute request target' };
    const url = rest.startsWith('/') ? rest : `/${rest}`;
    if (UNSENDABLE.test(url)) return { ok: false, reason: 'the request target holds characters that cannot be sent' };
    return { ok: true, url, host };
  }
  if (target === '*') return { ok: false, reason: 'OPTIONS * is not served: ask about a path' };
  return { ok: false, reason: 'the request target must be a path starting with / or an http(s) URL' };
}
