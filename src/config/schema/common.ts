// Building blocks shared by the schema sections. `reason` is our own annotation keyword: the
// loader prints it instead of ajv's generic message when the value fails a pattern or type.

export const hostPort = {
  type: 'string',
  pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$',
  reason: 'must be HOST:PORT (e.g. 127.0.0.1:5000)',
} as const;

export const httpUrl = {
  type: 'string',
  pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$',
  reason: 'must be an http(s) URL',
} as const;

/** Durations are integer milliseconds; field names end in `Ms` so the unit is never a guess. */
export function durationMs(defaultMs: number) {
  return { type: 'integer', minimum: 0, default: defaultMs } as const;
}
