// The storage driver contract, run against the filesystem driver.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PathNotFoundError } from '../../src/registry/storage/driver.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import { driverContract } from '../helpers/driver-contract.js';

describe('storage driver contract: filesystem', () => {
  driverContract({
    make: () => new FsDriver(mkdtempSync(join(tmpdir(), 'fs-driver-'))),
    sibling: (d) => new FsDriver(d.root),
    spec: (d) => ({ kind: 'fs', root: d.root }),
    leftovers: async (d) => (existsSync(join(d.root, '_tmp')) ? readdirSync(join(d.root, '_tmp')) : []),
  });
});

// A new directory appears with its file in it, never empty: an empty one is what a crash between
// mkdir and rename left, and listings (tags/list, the catalog) named what it stood for.
describe('filesystem driver: new directories', () => {
  const make = () => new FsDriver(mkdtempSync(join(tmpdir(), 'fs-driver-dirs-')));
  const tmpLeft = (d: FsDriver) => (existsSync(join(d.root, '_tmp')) ? readdirSync(join(d.root, '_tmp')) : []);

  it('a move whose source is gone makes no directory and leaves nothing in _tmp', async () => {
    const d = make();
    await assert.rejects(d.move('_uploads/gone/data', 'repositories/r/_manifests/tags/t1/current/link'), PathNotFoundError);
    assert.equal(existsSync(join(d.root, 'repositories')), false);
    assert.deepEqual(tmpLeft(d), []);
  });

  it('a write into a new directory chain lands whole and leaves nothing in _tmp', async () => {
    const d = make();
    await d.putContent('repositories/r/_manifests/tags/t1/current/link', 'sha256:aa');
    assert.equal((await d.getContent('repositories/r/_manifests/tags/t1/current/link')).toString(), 'sha256:aa');
    assert.deepEqual(tmpLeft(d), []);
  });

  it('writes racing into one new directory all land; the last of one file wins', async () => {
    const d = make();
    const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
    await Promise.all(tags.map((t) => d.putContent(`repositories/r/_manifests/tags/${t}/current/link`, t)));
    await Promise.all(['a', 'b', 'c'].map((v) => d.putContent('repositories/s/_manifests/tags/x/current/link', v)));
    assert.deepEqual((await d.list('repositories/r/_manifests/tags')).sort(), [...tags].sort());
    for (const t of tags) assert.equal((await d.getContent(`repositories/r/_manifests/tags/${t}/current/link`)).toString(), t);
    assert.ok(['a', 'b', 'c'].includes((await d.getContent('repositories/s/_manifests/tags/x/current/link')).toString()));
    assert.deepEqual(tmpLeft(d), []);
  });
});
