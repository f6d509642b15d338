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
import { parseDigest, type Digest } from '../../oci/digest.js';
import { manifestReferences, readStoredManifest } from '../../oci/manifest.js';
import { ifFound, type StorageDriver } from './driver.js';
import { storagePath } from './paths.js';
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

/** A repository's revisions or layer links (`<alg>/<hex>` entries alike) as digests. */
async function digestsUnder(driver: StorageDriver, repo: string, kind: 'revisionsDir' | 'layersDir'): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algorithm of (await ifFound(driver.list(storagePath({ kind, repo })))) ?? []) {
    for (const hex of (await ifFound(driver.list(storagePath({ kind, repo, algorithm })))) ?? []) {
      const digest = parseDigest(`${algorithm}:${hex}`);
      if (digest) out.push(digest);
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
    for (const digest of await digestsUnder(driver, repo, 'revisionsDir')) {
      report.manifests++;
      referenced.add(digest.value);
      const bytes = await ifFound(driver.getContent(storagePath({ kind: 'blobData', digest })));
      if (!bytes) continue;
      for (const d of manifestReferences(readStoredManifest(bytes))) referenced.add(d.value);
    }
    for (const digest of await digestsUnder(driver, repo, 'layersDir')) {
      if (referenced.has(digest.value) || !(await old(storagePath({ kind: 'layerLink', repo, digest })))) {
        referenced.add(digest.value);
        continue;
      }
      report.layerLinksRemoved++;
      // The link's own directory (`_layers/<alg>/<hex>`), so the digest is not listed again.
      if (!options.dryRun) await driver.delete(storagePath({ kind: 'layerDir', repo, digest }));
    }
    for (const value of referenced) marked.add(value);
  }

  for (const algorithm of (await ifFound(driver.list(storagePath({ kind: 'blobsDir' })))) ?? []) {
    for (const prefix of (await ifFound(driver.list(storagePath({ kind: 'blobsListing', algorithm })))) ?? []) {
      for (const hex of (await ifFound(driver.list(storagePath({ kind: 'blobsListing', algorithm, prefix })))) ?? []) {
        const digest = parseDigest(`${algorithm}:${hex}`);
        if (!digest || marked.has(digest.value)) {
          report.blobsKept++;
          continue;
        }
        const info = await ifFound(driver.stat(storagePath({ kind: 'blobData', digest })));
        if (!info || now - info.modifiedMs < options.minAgeMs) {
          report.blobsKept++;
          continue;
        }
        report.blobsRemoved++;
        report.bytesFreed += info.size;
        if (!options.dryRun) await driver.delete(storagePath({ kind: 'blobDir', digest }));
      }
    }
  }
  return report;
}
