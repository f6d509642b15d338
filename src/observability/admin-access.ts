// Who may use the admin listener, as a pure decision over one request's facts.
//
// Mutating requests (every POST: /failback, /backends/<name>/state and /weight) need
// `Authorization: Bearer <admin token>`; with no token configured they are refused outright.
// A browser cannot add that header to a cross-site form post or fetch without a CORS preflight
// we never answer, so the token also closes CSRF.
// Every request, reads included, is refused when a loopback-only listener is reached under a
// host name that is not a loopback name (DNS rebinding: a page on evil.example re-resolves its
// name to 127.0.0.1 and reads /status as same-origin). A listener bound to other interfaces is
// reachable by name on purpose (Prometheus scraping a service name), so names are allowed there.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export interface AdminRequestFacts {
  /** The route is an operator action (POST only), not a read. */
  mutating: boolean;
  /** The Host header, if any. */
  host: string | undefined;
  authorization: string | undefined;
}

export interface AdminPolicy {
  /** The bearer token from admin.tokenFile; undefined: mutating requests are refused. */
  token: string | undefined;
  /** The listener is bound to a loopback address only. */
  loopbackOnly: boolean;
}

export type AdminVerdict = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

/** Loopback binds: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** `name:port`, `[v6]:port` or a bare name -> the name. */
function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  const colon = hostHeader.lastIndexOf(':');
  return colon < 0 ? hostHeader : hostHeader.slice(0, colon);
}

/** Equal-length digests, so the comparison takes the same time whatever the guess. */
function sameToken(given: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

export function decideAdminAccess(request: AdminRequestFacts, policy: AdminPolicy): AdminVerdict {
  if (policy.loopbackOnly && request.host !== undefined) {
    const name = hostnameOf(request.host);
    // An IP literal cannot be rebound; only a name can point somewhere new.
    if (isIP(name) === 0 && !isLoopbackHost(name)) {
      return { allowed: false, status: 403, message: `Host ${name} is not a loopback name: refused (DNS rebinding)` };
    }
  }
  if (!request.mutating) return { allowed: true };
  if (policy.token === undefined) {
    return { allowed: false, status: 403, message: 'operator actions need a token: set admin.tokenFile and send Authorization: Bearer <token>' };
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? '');
  if (!match || !sameToken(match[1], policy.token)) return { allowed: false, status: 401, message: 'missing or wrong bearer token' };
  return { allowed: true };
}
