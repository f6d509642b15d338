// The directories under repositories/, each with its repository name (the path below
// repositories/, '' for the root itself) and its children. A name component never starts with
// `_` (spec grammar), so the walk never descends into a repository's own `_manifests`,
// `_layers` or `_uploads`. The catalog, the stale-upload purge and garbage collection share it.
import { ifFound, type StorageDriver } from './driver.js';
import { storagePath } from './paths.js';

export interface RepositoryDirectory {
  name: string;
  path: string;
  children: string[];
}

export async function* repositoryDirectories(driver: StorageDriver, name = ''): AsyncGenerator<RepositoryDirectory> {
  const path = storagePath(name === '' ? { kind: 'repositoriesDir' } : { kind: 'repo', repo: name });
  const children = await ifFound(driver.list(path));
  if (!children) return;
  yield { name, path, children };
  for (const child of children) {
    if (!child.startsWith('_')) yield* repositoryDirectories(driver, name === '' ? child : `${name}/${child}`);
  }
}

/**
 * Repository names (directories holding `_manifests`) after `last`, in lexical order of the full
 * name, reading only the directories the page needs: on the way down to `last`, and then one per
 * name returned. A catalog page then costs its size, not the registry's.
 *
 * A directory walk in child order is not lexical order of full names: `a-c` and `a.b` sort
 * between `a` and `a/b` (`-` and `.` sort before `/`). So each directory is read as two kinds of
 * entries, `P/c` (the child itself, when it is a repository) and `P/c/` (everything below it),
 * visited in key order; nothing outside a subtree sorts between two names inside it (they share
 * the prefix `P/c/`, which no other key at that level has), so expanding it in place is correct.
 * A child whose key is at or before `last` is never read; a subtree whose names all sort before
 * `last` (all are below `P/c0`, as `0` follows `/`) is skipped whole.
 */
export async function* repositoryNamesAfter(driver: StorageDriver, last?: string): AsyncGenerator<string> {
  const root = await ifFound(driver.list(storagePath({ kind: 'repositoriesDir' })));
  if (root) yield* namesBelow(driver, '', root, last);
}

async function* namesBelow(driver: StorageDriver, prefix: string, children: readonly string[], last: string | undefined): AsyncGenerator<string> {
  const entries: { key: string; child: string; self: boolean }[] = [];
  for (const child of children) {
    if (child.startsWith('_')) continue;
    entries.push({ key: `${prefix}${child}`, child, self: true }, { key: `${prefix}${child}/`, child, self: false });
  }
  entries.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  // A child read for its own entry is kept for its subtree's entry (which may come later).
  const read = new Map<string, string[] | undefined>();
  const list = async (child: string) => {
    if (!read.has(child)) read.set(child, await ifFound(driver.list(storagePath({ kind: 'repo', repo: `${prefix}${child}` }))));
    return read.get(child);
  };
  for (const { key, child, self } of entries) {
    if (self) {
      if (last !== undefined && key <= last) continue;
      if ((await list(child))?.includes('_manifests')) yield key;
      continue;
    }
    if (last !== undefined && `${prefix}${child}0` <= last) continue;
    const grandchildren = await list(child);
    read.delete(child);
    if (grandchildren) yield* namesBelow(driver, key, grandchildren, last);
  }
}
