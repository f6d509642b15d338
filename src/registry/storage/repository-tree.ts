// The directories under repositories/, each with its repository name (the path below
// repositories/, '' for the root itself) and its children. A name component never starts with
// `_` (spec grammar), so the walk never descends into a repository's own `_manifests`,
// `_layers` or `_uploads`. The catalog, the stale-upload purge and garbage collection share it.
import { ifFound, type StorageDriver } from './driver.js';
import { REPOSITORIES_DIR } from './paths.js';

export interface RepositoryDirectory {
  name: string;
  path: string;
  children: string[];
}

export async function* repositoryDirectories(driver: StorageDriver, name = ''): AsyncGenerator<RepositoryDirectory> {
  const path = name === '' ? REPOSITORIES_DIR : `${REPOSITORIES_DIR}/${name}`;
  const children = await ifFound(driver.list(path));
  if (!children) return;
  yield { name, path, children };
  for (const child of children) {
    if (!child.startsWith('_')) yield* repositoryDirectories(driver, name === '' ? child : `${name}/${child}`);
  }
}
