// Refuses storage the registry cannot use before anything listens: a path that is a file, a
// directory that cannot be created, one that is read-only or not writable; a bucket that cannot
// be reached, does not exist, refuses the credentials or refuses writes. Otherwise the registry
// started and answered 500 to every push.
import { mkdir, stat } from 'node:fs/promises';
import { StartupError } from '../errors/startup-error.js';
import { describeStorage, type RegistryStorage } from './registry-storage.js';
import type { ImageStore } from './storage/image-store.js';

/**
 * The probe is three S3 requests, each bounded by registry.s3.timeouts (35 s by default); this
 * caps the three together, as a healthy server answers all of them within a second.
 */
const S3_PROBE_TIMEOUT_MS = 30_000;

export async function requireUsableStorage(storage: RegistryStorage, store: ImageStore): Promise<void> {
  if (storage.kind === 'filesystem') return requireUsableDirectory(storage.root, store);
  const where = `registry.s3: cannot use ${describeStorage(storage)}`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${S3_PROBE_TIMEOUT_MS / 1000} s`), S3_PROBE_TIMEOUT_MS);
  });
  const problem = await Promise.race([store.checkWritable(), timeout]).finally(() => clearTimeout(timer));
  if (problem !== undefined) throw new StartupError(`${where}: ${problem}`);
}

async function requireUsableDirectory(root: string, store: ImageStore): Promise<void> {
  const info = await stat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new StartupError(`registry.storage: cannot use ${root} (${err.code ?? err.message})`);
  });
  if (info && !info.isDirectory()) throw new StartupError(`registry.storage: ${root} is not a directory`);
  if (!info) {
    await mkdir(root, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw new StartupError(`registry.storage: cannot create ${root} (${err.code ?? err.message})`);
    });
  }
  const problem = await store.checkWritable();
  if (problem !== undefined) throw new StartupError(`registry.storage: ${root}: ${problem}`);
}
