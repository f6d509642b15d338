// The storage driver contract, run against the filesystem driver.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
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
