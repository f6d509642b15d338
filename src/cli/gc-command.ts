// `ha-proxy gc --storage DIR | --config FILE [--dry-run] [--min-age-ms N]`: offline garbage
// collection of a built-in registry's storage, a directory or the `registry.s3` bucket of a
// config (src/registry/storage/garbage-collect.ts). Prints one JSON report.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { describeStorage, openRegistryStorage, type RegistryStorage } from '../registry/registry-storage.js';
import { collectGarbage } from '../registry/storage/garbage-collect.js';
import { UsageError } from './args.js';

export const GC_USAGE = `Usage: ha-proxy gc --storage DIR [--dry-run] [--min-age-ms N]
       ha-proxy gc --config FILE [--dry-run] [--min-age-ms N]

Deletes the blobs no manifest references any more (after manifest deletes), and the repository
links to them. Stop every registry process that uses the storage first.

  --storage DIR       the registry's storage directory (registry.storage)
  --config FILE       the registry's config file: its registry.storage or registry.s3 (a bucket;
                      credentials from the file or the AWS_* environment variables)
  --dry-run           report what would be deleted, delete nothing
  --min-age-ms N      keep anything modified within N ms (default 3600000: one hour)
`;

const DEFAULT_MIN_AGE_MS = 3_600_000;

interface GcArgs {
  storage?: string;
  config?: string;
  'dry-run'?: boolean;
  'min-age-ms'?: string;
  help?: boolean;
}

function parseGcArgs(argv: string[]): GcArgs {
  try {
    return parseArgs({
      args: argv,
      options: { storage: { type: 'string' }, config: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'min-age-ms': { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The directory of --storage, or what the config of --config names (ConfigError when it is broken). */
function storageOf(values: GcArgs): RegistryStorage {
  if (values.storage !== undefined && values.config !== undefined) throw new UsageError('gc: give --storage DIR or --config FILE, not both');
  if (values.config !== undefined) {
    const config = loadConfig({ file: values.config });
    if (config.registry.storage === undefined && config.registry.s3 === undefined) throw new UsageError(`gc: ${values.config} names neither registry.storage nor registry.s3`);
    return openRegistryStorage(config.registry);
  }
  if (values.storage === undefined) throw new UsageError('gc: --storage DIR is required (or --config FILE)');
  const root = resolve(values.storage);
  if (!existsSync(root)) throw new UsageError(`gc: --storage ${root}: no such directory`);
  return openRegistryStorage({ storage: root });
}

/** Runs the command; resolves the exit code. */
export async function runGcCommand(argv: string[]): Promise<number> {
  const values = parseGcArgs(argv);
  if (values.help) {
    process.stdout.write(GC_USAGE);
    return 0;
  }
  const minAgeText = values['min-age-ms'] ?? String(DEFAULT_MIN_AGE_MS);
  if (!/^\d+$/.test(minAgeText)) throw new UsageError(`gc: --min-age-ms: must be a whole number of milliseconds, got "${minAgeText}"`);
  const storage = storageOf(values);
  const dryRun = values['dry-run'] === true;
  const report = await collectGarbage(storage.driver, { dryRun, minAgeMs: Number(minAgeText) });
  process.stdout.write(`${JSON.stringify({ storage: describeStorage(storage), dryRun, ...report })}\n`);
  return 0;
}
