// Small JSON records written atomically (temp file, fsync, rename, fsync of the directory) under
// the replica's `_replication/` directory, so replication state survives SIGKILL and power loss.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StartupError } from '../../errors/startup-error.js';
import { fsyncDir } from '../storage/fsync-dir.js';

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(value));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** Records are read once, when a replica starts: one it cannot read stops the start. */
function unreadable(path: string, err: unknown): StartupError {
  return new StartupError(`replication state: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
}

/**
 * Every `*.json` record directly in `dir` (none when `dir` does not exist yet); temp files a
 * crash left are removed, unparsable ones skipped. Any other read error (EACCES, ENOTDIR, EIO)
 * throws: treating it as "no records" would silently drop the copies owed to peers.
 */
export async function readJsonDir<T>(dir: string): Promise<{ path: string; value: T }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw unreadable(dir, err);
  }
  const out: { path: string; value: T }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (name.startsWith('.tmp-')) {
      await rm(path, { force: true });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isMissing(err)) continue; // removed since the listing: the copy was done
      throw unreadable(path, err);
    }
    try {
      out.push({ path, value: JSON.parse(text) as T });
    } catch {
      // A record is only ever visible complete (atomic rename); an unparsable one is foreign: skip it.
    }
  }
  return out;
}
