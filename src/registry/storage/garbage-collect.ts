// Offline garbage collection (mark and sweep, as distribution's `registry garbage-collect`):
// deletes free no disk by themselves, because blobs are shared between repositories and
// manifests. Run it while no registry process uses the storage directory: a blob committed by a
// push whose manifest has not arrived yet is unreferenced, and would be collected.
//
// Mark: every manifest revision of every repository, with what it references (config, layers,
// child manifests). Sweep, in this order:
//   1. a repository's layer link that no manifest of that repository references: removed, so
//      the repository stops serving the blob (HEAD would otherwise say 200 for a deleted blob);
//   2. a blob that no manifest references and no remaining link names: removed.
// Anything modified less than `minAgeMs` ago is kept (a push that was under way when the
// registry stopped can still be completed after it restarts).
import { parseDigest } from '../../oci/digest.js';
import { manifestReferences, readStoredManifest } from '../../oci/manifest.js';
import { ifFound, type StorageDriver } from './driver.js';
import { BLOBS_DIR, storagePath } from './paths.js';
import { repositoryDirectories } from './repository-tree.js';

export interface GcOptions {
  /** Report what would go, delete nothing. */
  dryRun: boolean;
  /** Keep what was modified within this many milliseconds. */
  minAgeMs: number;
  now?: number;
}

export interface GcReport {
  repositories: number;
  manifests: number;
  layerLinksRemoved: number;
  blobsKept: number;
  blobsRemoved: number;
  bytesFreed: number;
}

/**
 * Repository names: directories holding any `_`-prefixed registry directory (not only
 * `_manifests`, as the catalog asks: a push that never got to its manifest leaves links too).
 */
async function repositories(driver: StorageDriver): Promise<string[]> {
  const out: string[] = [];
  for await (const { name, children } of repositoryDirectories(driver)) {
    if (name !== '' && children.some((c) => c.startsWith('_'))) out.push(name);
  }
  return out.sort();
}

/** `<dir>/<alg>/<hex>` entries as digests (revision and layer links are laid out alike). */
async function digestsUnder(driver: StorageDriver, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const algorithm of (await ifFound(driver.list(dir))) ?? []) {
    for (const hex of (await ifFound(driver.list(`${dir}/${algorithm}`))) ?? []) {
      const digest = parseDigest(`${algorithm}:${hex}`);
      if (digest) out.push(digest.value);
    }
  }
  return out;
}

export async function collectGarbage(driver: StorageDriver, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const old = async (path: string): Promise<boolean> => {
    const info = await ifFound(driver.stat(path));
    return info !== undefined && now - info.modifiedMs >= options.minAgeMs;
  };
  const report: GcReport = { repositories: 0, manifests: 0, layerLinksRemoved: 0, blobsKept: 0, blobsRemoved: 0, bytesFreed: 0 };
  // Digests that must keep their bytes: manifests, what they reference, and what links still name.
  const marked = new Set<string>();

  for (const repo of await repositories(driver)) {
    report.repositories++;
    const referenced = new Set<string>();
    for (const value of await digestsUnder(driver, `${storagePath({ kind: 'manifestsDir', repo })}/revisions`)) {
      const digest = parseDigest(value)!;
      report.manifests++;
      referenced.add(value);
      const bytes = await ifFound(driver.getContent(storagePath({ kind: 'blobData', digest })));
      if (!bytes) continue;
      for (const d of manifestReferences(readStoredManifest(bytes))) referenced.add(d.value);
    }
    for (const value of await digestsUnder(driver, storagePath({ kind: 'layersDir', repo }))) {
      const digest = parseDigest(value)!;
      const link = storagePath({ kind: 'layerLink', repo, digest });
      if (referenced.has(value) || !(await old(link))) {
        referenced.add(value);
        continue;
      }
      report.layerLinksRemoved++;
      // The link's own directory (`_layers/<alg>/<hex>`), so the digest is not listed again.
      if (!options.dryRun) await driver.delete(link.slice(0, -'/link'.length));
    }
    for (const value of referenced) marked.add(value);
  }

  for (const algorithm of (await ifFound(driver.list(BLOBS_DIR))) ?? []) {
    for (const prefix of (await ifFound(driver.list(`${BLOBS_DIR}/${algorithm}`))) ?? []) {
      for (const hex of (await ifFound(driver.list(`${BLOBS_DIR}/${algorithm}/${prefix}`))) ?? []) {
        const digest = parseDigest(`${algorithm}:${hex}`);
        if (!digest || marked.has(digest.value)) {
          report.blobsKept++;
          continue;
        }
        const data = storagePath({ kind: 'blobData', digest });
        const info = await ifFound(driver.stat(data));
        if (!info || now - info.modifiedMs < options.minAgeMs) {
          report.blobsKept++;
          continue;
        }
        report.blobsRemoved++;
        report.bytesFreed += info.size;
        if (!options.dryRun) await driver.delete(data.slice(0, -'/data'.length));
      }
    }
  }
  return report;
}
