// Cookie persistence with HAProxy's `cookie NAME insert indirect nocache` behaviour:
// - insert: the proxy sets a cookie naming the backend that served the client;
// - indirect: the cookie is removed before the request goes to the backend, and not set again
//   while the client already presents a valid one for the backend that served it;
// - nocache: a response that sets the cookie is marked private, so a shared cache never hands
//   one client's backend assignment to everyone.
// The value is signed: a client cannot steer itself to a backend of its choice by editing it.
import { fromBase64Url, macMatches, macOf, type Keyring } from '../../oci/signing.js';

const VERSION = 'c1';

export function signCookieValue(keys: Keyring, backend: string): string {
  return `${Buffer.from(backend, 'utf8').toString('base64url')}.${macOf(keys[0], [VERSION, backend]).toString('base64url')}`;
}

/** The backend a cookie value names, or undefined when it is malformed or not ours. */
export function verifyCookieValue(keys: Keyring, value: string): string | undefined {
  const dot = value.indexOf('.');
  if (dot === -1) return undefined;
  const backendBytes = fromBase64Url(value.slice(0, dot));
  const mac = fromBase64Url(value.slice(dot + 1));
  if (!backendBytes || backendBytes.length === 0 || !mac) return undefined;
  const backend = backendBytes.toString('utf8');
  return macMatches(keys, [VERSION, backend], mac) ? backend : undefined;
}

export interface TakenCookie {
  /** The value of the first cookie called `name`, if the request had one. */
  value: string | undefined;
  /** The Cookie header without it; undefined when nothing else remains. */
  header: string | undefined;
}

/** Removes cookie `name` from a Cookie header, keeping the other cookies byte for byte. */
export function takeCookie(header: string | string[] | undefined, name: string): TakenCookie {
  if (header === undefined) return { value: undefined, header: undefined };
  const joined = Array.isArray(header) ? header.join('; ') : header;
  let value: string | undefined;
  const kept: string[] = [];
  for (const part of joined.split(';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const key = eq === -1 ? trimmed : trimmed.slice(0, eq).trim();
    if (key === name) {
      if (value === undefined) value = eq === -1 ? '' : trimmed.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    } else {
      kept.push(trimmed);
    }
  }
  return { value, header: kept.length === 0 ? undefined : kept.join('; ') };
}

/** The Set-Cookie header value that pins the client to `backend`. */
export function stickyCookieHeader(name: string, signedValue: string): string {
  // A session cookie for the whole site, out of reach of scripts; Lax keeps cross-site posts out.
  return `${name}=${signedValue}; Path=/; HttpOnly; SameSite=Lax`;
}

/**
 * `nocache`: the Cache-Control for a response that sets the cookie. Shared-cache directives go,
 * `private` is added; a response already private or no-store is left alone.
 */
export function privateCacheControl(existing: string | undefined): string {
  if (existing === undefined || existing.trim() === '') return 'private';
  const directives = existing.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const lower = directives.map((d) => d.toLowerCase());
  if (lower.includes('private') || lower.includes('no-store')) return existing;
  const kept = directives.filter((d) => {
    const l = d.toLowerCase();
    return l !== 'public' && !l.startsWith('s-maxage');
  });
  return ['private', ...kept].join(', ');
}
