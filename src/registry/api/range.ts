// Range arithmetic for blob GETs and upload chunks. Pure.

/** Inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

const RANGE_RE = /^bytes=(\d*)-(\d*)$/;

/**
 * Parses a GET `Range` header against a blob of `size` bytes. Returns undefined for "no range"
 * (serve everything), a range, or 'unsatisfiable' (answer 416). Only single ranges are supported;
 * a malformed or multi-range header is also unsatisfiable, so a client never silently gets bytes
 * it did not ask for.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined || header === '') return undefined;
  const m = RANGE_RE.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  if (m[1] === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

const CONTENT_RANGE_RE = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/;

/**
 * Parses an upload chunk's `Content-Range` (the spec's `<start>-<end>`, also accepting the RFC
 * form `bytes <start>-<end>/<total>`). Undefined when absent, 'invalid' when malformed.
 */
export function parseContentRange(header: string | undefined): ByteRange | 'invalid' | undefined {
  if (header === undefined || header === '') return undefined;
  const m = CONTENT_RANGE_RE.exec(header.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return 'invalid';
  return { start, end };
}

/** The upload `Range` response header for `size` bytes received (`0-0` when empty, as distribution). */
export function uploadRangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}
