// `ha-proxy gc --storage DIR [--dry-run] [--min-age-ms N]`: offline garbage collection of a
// built-in registry's storage (src/registry/storage/garbage-collect.ts). Prints one JSON report.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FsDriver } from '../registry/storage/fs-driver.js';
import { collectGarbage } from '../registry/storage/garbage-collect.js';
import { UsageError } from './args.js';

export const GC_USAGE = `Usage: ha-proxy gc --storage DIR [--dry-run] [--min-age-ms N]

Deletes the blobs no manifest references any more (after manifest deletes), and the repository
links to them. Stop every registry process that uses DIR first.

  --storage DIR       the registry's storage directory (registry.storage)
  --dry-run           report what would be deleted, delete nothing
  --min-age-ms N      keep anything modified within N ms (default 3600000: one hour)
`;

const DEFAULT_MIN_AGE_MS = 3_600_000;

/** Runs the command; resolves the exit code. */
export async function runGcCommand(argv: string[]): Promise<number> {
  let values: { storage?: string; 'dry-run'?: boolean; 'min-age-ms'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { storage: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'min-age-ms': { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(GC_USAGE);
    return 0;
  }
  if (values.storage === undefined) throw new UsageError('gc: --storage DIR is required');
  const root = resolve(values.storage);
  if (!existsSync(root)) throw new UsageError(`gc: --storage ${root}: no such directory`);
  const minAgeText = values['min-age-ms'] ?? String(DEFAULT_MIN_AGE_MS);
  if (!/^\d+$/.test(minAgeText)) throw new UsageError(`gc: --min-age-ms: must be a whole number of milliseconds, got "${minAgeText}"`);
  const dryRun = values['dry-run'] === true;
  const report = await collectGarbage(new FsDriver(root), { dryRun, minAgeMs: Number(minAgeText) });
  process.stdout.write(`${JSON.stringify({ storage: root, dryRun, ...report })}\n`);
  return 0;
}
