// Turns ajv's errors into `path: reason` lines a person can act on.
import type { ErrorObject } from 'ajv';

/** `/backends/1/url` -> `backends[1].url`; the root is `config`. */
export function instancePathToDotted(instancePath: string): string {
  if (instancePath === '') return 'config';
  let out = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

function reasonOf(err: ErrorObject): string {
  const custom = (err.parentSchema as { reason?: unknown } | undefined)?.reason;
  if (typeof custom === 'string' && (err.keyword === 'pattern' || err.keyword === 'type' || err.keyword === 'format')) {
    return custom;
  }
  switch (err.keyword) {
    case 'additionalProperties':
      return `unknown property "${String((err.params as { additionalProperty: string }).additionalProperty)}"`;
    case 'required':
      return `missing required property "${String((err.params as { missingProperty: string }).missingProperty)}"`;
    case 'enum':
      return `must be one of ${((err.params as { allowedValues: unknown[] }).allowedValues).map(String).join(', ')}`;
    default:
      return err.message ?? 'is invalid';
  }
}

export function formatAjvErrors(errors: readonly ErrorObject[]): string[] {
  const lines = new Set<string>();
  for (const err of errors) {
    // `if/then` wrappers repeat the real error underneath them; keep only the real one.
    if (err.keyword === 'if') continue;
    lines.add(`${instancePathToDotted(err.instancePath)}: ${reasonOf(err)}`);
  }
  return [...lines];
}
