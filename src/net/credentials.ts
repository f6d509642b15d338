// `user:password@` in a backend or peer URL: the credentials are sent as HTTP Basic auth where
// this process speaks for itself (health checks, replication), and the URL shown anywhere
// (logs, /status, metrics, error bodies, shared-state keys) is the one without them.

export interface SplitUrl {
  /** The URL without its userinfo: safe to print, and what connections are made to. */
  url: string;
  /** `Basic ...` for the userinfo, when the URL had any. */
  authorization?: string;
}

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i;

export function splitCredentials(raw: string): SplitUrl {
  const match = USERINFO.exec(raw);
  if (!match) return { url: raw };
  const url = match[1] + raw.slice(match[0].length);
  const [user, ...rest] = match[2].split(':');
  // URLs carry userinfo percent-encoded (a `@` or `:` in a password must be); Basic auth carries it raw.
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const pair = `${decode(user)}:${decode(rest.join(':'))}`;
  return { url, authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

/** The URL with any `user:password@` removed, for anything a person or another process reads. */
export function redactUrl(raw: string): string {
  return splitCredentials(raw).url;
}
