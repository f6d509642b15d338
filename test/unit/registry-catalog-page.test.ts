// A catalog page is read from storage in proportion to the page: counted as directory reads
// through the registry's own HTTP API on a real storage directory, not timed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createRegistryApp } from '../../src/registry/api/app.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';

class CountingDriver extends FsDriver {
  lists = 0;
  override list(path: string): Promise<string[]> {
    this.lists++;
    return super.list(path);
  }
}

// Names whose lexical order differs from a directory walk's: `-`, `.` sort before `/`, `_` after.
const TRICKY = ['a', 'a-c', 'a-c/x', 'a.b', 'a/b', 'a/b-d', 'a/b/c', 'a__b', 'a_b', 'lib/x', 'lib/y/z', 'z9/0'];
const NAMES = [...TRICKY, ...Array.from({ length: 1000 }, (_, i) => `r-${String(i).padStart(4, '0')}`)];
const SORTED = [...NAMES].sort();

describe('catalog pages', () => {
  const root = mkdtempSync(join(tmpdir(), 'catalog-page-'));
  const driver = new CountingDriver(root);
  let server: Server;
  let base = '';
  before(async () => {
    for (const name of NAMES) mkdirSync(join(root, 'repositories', name, '_manifests'), { recursive: true });
    // Repository internals and namespaces that are not repositories must not be listed.
    mkdirSync(join(root, 'repositories', 'r-0001', '_layers'), { recursive: true });
    mkdirSync(join(root, 'repositories', 'empty', 'namespace'), { recursive: true });
    server = createServer(createRegistryApp({ store: new ImageStore(driver), logger: pino({ level: 'silent' }) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  async function page(path: string): Promise<{ names: string[]; next?: string; reads: number }> {
    driver.lists = 0;
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200);
    const names = ((await res.json()) as { repositories: string[] }).repositories;
    const link = res.headers.get('link');
    return { names, next: link ? /<([^>]+)>/.exec(link)![1] : undefined, reads: driver.lists };
  }

  it('reads directories in proportion to the page, not to the registry, wherever the page starts', async () => {
    for (const path of ['/v2/_catalog?n=10', '/v2/_catalog?n=10&last=r-0500', '/v2/_catalog?n=10&last=a%2Fb']) {
      const { names, reads } = await page(path);
      assert.equal(names.length, 10);
      // The root, the directories on the way to `last`, one per candidate, and a second read of
      // each namespace (its own entry, then its subtree) where the tricky names are.
      assert.ok(reads <= 2 * names.length + 4, `${path}: ${reads} directory reads for ${names.length} names among ${NAMES.length}`);
    }
  });

  it('walks every page in lexical order of full names, nested and punctuated ones included', async () => {
    const seen: string[] = [];
    for (let path: string | undefined = '/v2/_catalog?n=7'; path !== undefined; ) {
      const p = await page(path);
      seen.push(...p.names);
      path = p.next;
    }
    assert.deepEqual(seen, SORTED);
    assert.deepEqual((await page('/v2/_catalog')).names, SORTED);
    assert.deepEqual((await page('/v2/_catalog?n=3&last=a')).names, ['a-c', 'a-c/x', 'a.b']);
    assert.deepEqual((await page('/v2/_catalog?n=3&last=a%2Fb%2Fc')).names, ['a__b', 'a_b', 'lib/x']);
    assert.deepEqual((await page('/v2/_catalog?n=2&last=zz')).names, []);
    assert.deepEqual((await page('/v2/_catalog?n=0')).names, []);
  });
});
