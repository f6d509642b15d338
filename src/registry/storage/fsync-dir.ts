// fsync of a directory, so a rename into it (or a file created in it) survives power loss.
import { open, type FileHandle } from 'node:fs/promises';

export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories (EINVAL); the rename itself is still atomic.
    // A directory removed meanwhile has nothing left to make durable.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  } finally {
    await fh?.close();
  }
}
