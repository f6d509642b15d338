// Building blocks shared by the schema sections. `reason` is our own annotation keyword: the
// loader prints it instead of ajv's generic message when the value fails a pattern or type.
import { MAX_TIMER_MS } from '../../net/timer-limit.js';

/** 0-65535 without leading-zero tricks beyond what Number() reads the same; 0 asks the kernel for a free port. */
const PORT = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})';
/** A bracketed IPv6 literal or a host name / IPv4 address, as it appears before `:port`. */
const URL_HOST = '(\\[[0-9a-fA-F:.]+\\]|[^\\s/?#@:\\[\\]]+)';
/** `user:password@` (percent-encoded as URLs require). */
const USERINFO = '([^\\s/?#@]+@)?';

export const hostPort = {
  type: 'string',
  pattern: `^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]*):${PORT}$`,
  reason: 'must be HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:5000)',
} as const;

export const httpUrl = {
  type: 'string',
  pattern: `^https?://${USERINFO}${URL_HOST}(:${PORT})?(/[^\\s?#]*)?$`,
  reason: 'must be an http(s) URL (a port, if given, from 0 to 65535)',
} as const;

/** `scheme://host[:port]` and nothing else: where a client is sent, with a path of our choosing. */
export const originUrl = {
  type: 'string',
  pattern: `^https?://${URL_HOST}(:${PORT})?/?$`,
  reason: 'must be scheme://host[:port] (http or https, no path, no user:password@)',
} as const;

export const redisUrl = {
  type: 'string',
  pattern: `^rediss?://${USERINFO}${URL_HOST}?(:${PORT})?([/?][^\\s]*)?$`,
  reason: 'must be a redis:// or rediss:// URL (a port, if given, from 0 to 65535)',
} as const;

// Every duration is bounded by Node's longest timer: `healthCheck.intervalMs: 3000000000` was
// accepted and Node, clamping it to 1 ms, checked a backend a thousand times a second.

/** Durations are integer milliseconds; field names end in `Ms` so the unit is never a guess. */
export function durationMs(defaultMs: number, minimum = 0) {
  return { type: 'integer', minimum, maximum: MAX_TIMER_MS, default: defaultMs } as const;
}
