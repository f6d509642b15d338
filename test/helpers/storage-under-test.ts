// The registry's two storage drivers for suites that run once per driver: a fresh directory, or
// a fresh key prefix of a bucket on one real S3 server (radosgw) that the test file starts on
// first use and stops after its last suite. The suite itself is written once:
//
//   for (const storage of storagesUnderTest()) describe(`... (${storage.name})`, { skip: storage.skip }, () => { ... });
//
// Inside it, `it` runs on both drivers and `storage.itOnce` on the filesystem driver only: for a
// test whose outcome is decided before storage is touched (request parsing and validation, error
// codes for what was never stored), a second run on S3 buys nothing but time.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { S3Client } from '../../src/registry/storage/s3-client.js';
import { s3RegistrySettings, type RegistryProcess, type RegistryProcessOptions } from './registry-process.js';
import { s3Skip, startS3Server, type S3Server } from './s3-server.js';

export interface StorageUnderTest {
  name: 'filesystem' | 's3';
  skip: string | false;
  /** startRegistryProcess options for empty storage of this kind. */
  options(): Promise<Pick<RegistryProcessOptions, 'storage' | 's3'>>;
  /** Every stored file (object) below `under` of the registry's storage, as relative paths. */
  files(reg: RegistryProcess, options: RegistryProcessOptions, under?: string): Promise<string[]>;
  /** How `ha-proxy gc` is pointed at this storage: its arguments and environment. */
  gcTarget(reg: RegistryProcess, options: RegistryProcessOptions): { args: string[]; env: Record<string, string> };
  /**
   * `it` itself on the filesystem driver (so a failure names the test file's line), nothing on
   * S3: for tests no storage driver can change.
   */
  itOnce: (name: string, fn: () => Promise<void>) => unknown;
}

let server: Promise<S3Server> | undefined;

/** The test file's S3 server, started on first use (stopped by the after hook of storagesUnderTest). */
function sharedS3Server(): Promise<S3Server> {
  server ??= startS3Server();
  return server;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1));
}

async function keysUnder(s3: S3Server, prefix: string): Promise<string[]> {
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket }, () => s3);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.list(prefix, undefined, token);
    keys.push(...page.keys.map((k) => k.slice(prefix.length)));
    token = page.nextToken;
  } while (token);
  return keys;
}

/** Call at the top level of a test file: the S3 server stops after the file's last test. */
export function storagesUnderTest(): StorageUnderTest[] {
  after(async () => {
    const started = server;
    server = undefined;
    await (await started)?.stop();
  });
  return [
    {
      name: 'filesystem',
      skip: false,
      options: async () => ({}),
      files: async (reg, _options, under = '') => filesUnder(join(reg.storage, under)),
      gcTarget: (reg) => ({ args: ['--storage', reg.storage], env: {} }),
      itOnce: it,
    },
    {
      name: 's3',
      skip: s3Skip(),
      options: async () => ({ s3: { server: await sharedS3Server(), prefix: `t-${randomUUID()}/` } }),
      files: async (_reg, options, under = '') => keysUnder(options.s3!.server, `${options.s3!.prefix}${under ? `${under}/` : ''}`),
      gcTarget: (_reg, options) => {
        const { section, env } = s3RegistrySettings(options.s3!);
        const file = join(mkdtempSync(join(tmpdir(), 'ha-gc-s3-')), 'registry.json');
        writeFileSync(file, JSON.stringify({ mode: 'registry', registry: { s3: section } }));
        return { args: ['--config', file], env };
      },
      itOnce: () => {},
    },
  ];
}
