// The sweep's age rule, on a storage directory built by hand: what a push in progress may still
// need is kept.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDigest } from '../../src/oci/digest.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import { collectGarbage } from '../../src/registry/storage/garbage-collect.js';
import { storagePath, type StoragePath } from '../../src/registry/storage/paths.js';

const HOUR = 3_600_000;

function writeAt(root: string, path: StoragePath, content: string, ageMs: number): string {
  const file = join(root, storagePath(path));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(file, at, at);
  return file;
}

const digestOf = (content: string) => parseDigest(`sha256:${createHash('sha256').update(content).digest('hex')}`)!;

describe('garbage collection age rule', () => {
  it('keeps an old blob that a recent link still names, and frees an old one nothing names', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gc-unit-'));
    const mounted = digestOf('mounted a minute ago');
    const orphan = digestOf('pushed, never used');
    const mountedData = writeAt(root, { kind: 'blobData', digest: mounted }, 'mounted a minute ago', 2 * HOUR);
    const orphanData = writeAt(root, { kind: 'blobData', digest: orphan }, 'pushed, never used', 2 * HOUR);
    writeAt(root, { kind: 'layerLink', repo: 'fresh/app', digest: mounted }, mounted.value, 60_000);
    const oldLink = writeAt(root, { kind: 'layerLink', repo: 'stale/app', digest: orphan }, orphan.value, 2 * HOUR);

    const report = await collectGarbage(new FsDriver(root), { dryRun: false, minAgeMs: HOUR });
    assert.deepEqual([report.repositories, report.layerLinksRemoved, report.blobsRemoved, report.blobsKept], [2, 1, 1, 1]);
    assert.ok(existsSync(mountedData), 'a push in progress can still use the mounted blob');
    assert.equal(existsSync(orphanData), false);
    assert.equal(existsSync(oldLink), false);
  });
});
