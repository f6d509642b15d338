// Refuses storage the registry cannot use before anything listens: a path that is a file, a
// directory that cannot be created, or one that is read-only or not writable. Otherwise the
// registry started and answered 500 to every push.
import { mkdir, stat } from 'node:fs/promises';
import { StartupError } from '../errors/startup-error.js';
import type { ImageStore } from './storage/image-store.js';

export async function requireUsableStorage(root: string, store: ImageStore): Promise<void> {
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
