// Replication's own records (queue tasks, stamps, the epoch): small JSON objects written through
// the StorageDriver, whose putContent replaces an object atomically and durably (on disk: temp
// file, fsync, rename, fsync of the directory), so replication state survives SIGKILL and power
// loss on every driver. Paths come from storagePath() (paths.ts).
import { StartupError } from '../../errors/startup-error.js';
import { ifFound, PathNotFoundError, type StorageDriver } from '../storage/driver.js';

export async function writeJson(driver: StorageDriver, path: string, value: unknown): Promise<void> {
  await driver.putContent(path, JSON.stringify(value));
}

/** Records are read once, when a replica starts: one it cannot read stops the start. */
function unreadable(path: string, reason: unknown): StartupError {
  const code = typeof reason === 'string' ? reason : ((reason as NodeJS.ErrnoException).code ?? String(reason));
  return new StartupError(`replication state: cannot read ${path} (${code})`);
}

/** The names in `dir`; none when it does not exist yet. Anything else that stops the listing throws. */
async function listRecords(driver: StorageDriver, dir: string): Promise<string[]> {
  try {
    return await driver.list(dir);
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw unreadable(dir, err);
  }
  // "Not found" also covers a path that is a file (ENOTDIR): that is storage in a state
  // replication did not leave it in, not an empty queue.
  const info = await ifFound(driver.stat(dir)).catch((err: unknown) => {
    throw unreadable(dir, err);
  });
  if (info !== undefined && !info.isDirectory) throw unreadable(dir, 'ENOTDIR');
  return [];
}

/**
 * Every `*.json` record directly in `dir` (none when `dir` does not exist yet); unparsable ones
 * are skipped. Any other read error (EACCES, ENOTDIR, EIO, an S3 error) throws: treating it as
 * "no records" would silently drop the copies owed to peers.
 */
export async function readJsonDir<T>(driver: StorageDriver, dir: string): Promise<{ path: string; value: T }[]> {
  const out: { path: string; value: T }[] = [];
  for (const name of await listRecords(driver, dir)) {
    const path = `${dir}/${name}`;
    if (name.startsWith('.tmp-')) {
      // Staged beside the records by earlier versions and left by a crash: never complete.
      await driver.delete(path);
      continue;
    }
    if (!name.endsWith('.json')) continue;
    let bytes: Buffer;
    try {
      bytes = await driver.getContent(path);
    } catch (err) {
      if (err instanceof PathNotFoundError) continue; // removed since the listing: the copy was done
      throw unreadable(path, err);
    }
    try {
      out.push({ path, value: JSON.parse(bytes.toString('utf8')) as T });
    } catch {
      // A record is only ever visible complete (atomic replace); an unparsable one is foreign: skip it.
    }
  }
  return out;
}
