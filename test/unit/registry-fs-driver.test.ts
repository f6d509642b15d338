// The storage driver contract, run against the filesystem driver.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { PathNotFoundError, type StorageDriver } from '../../src/registry/storage/driver.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';

const drivers: [string, () => StorageDriver][] = [['filesystem', () => new FsDriver(mkdtempSync(join(tmpdir(), 'fs-driver-')))]];
const notFound = (e: unknown) => e instanceof PathNotFoundError;

for (const [name, make] of drivers) {
  describe(`storage driver contract: ${name}`, () => {
    it('puts and gets whole objects, replacing them atomically, and reports missing paths', async () => {
      const d = make();
      await d.putContent('a/b/c', 'one');
      await d.putContent('a/b/c', 'two');
      assert.equal((await d.getContent('a/b/c')).toString(), 'two');
      assert.equal((await d.stat('a/b/c')).size, 3);
      assert.ok((await d.stat('a/b')).isDirectory);
      await assert.rejects(d.getContent('a/b/missing'), notFound);
      await assert.rejects(d.stat('nope'), notFound);
      await assert.rejects(d.list('nope'), notFound);
      assert.deepEqual(readdirSync(join(d.root, '_tmp')), []);
    });

    it('makes a writer visible only on commit, and leaves nothing on cancel', async () => {
      const d = make();
      const w = await d.writer('x/data');
      w.stream.write('hello ');
      w.stream.write('world');
      await assert.rejects(d.stat('x/data'), notFound);
      await w.commit();
      assert.equal((await d.getContent('x/data')).toString(), 'hello world');
      const c = await d.writer('y/data');
      c.stream.write('discard me');
      await c.cancel();
      await assert.rejects(d.stat('y/data'), notFound);
      assert.deepEqual(readdirSync(join(d.root, '_tmp')), []);
    });

    it('appends at an offset, cutting off whatever lies beyond it', async () => {
      const d = make();
      await d.putContent('u/data', 'abcdefTORN');
      const w = await d.appendWriter('u/data', { offset: 6 });
      w.stream.end('gh');
      await w.commit();
      assert.equal(w.written(), 2);
      assert.equal((await d.getContent('u/data')).toString(), 'abcdefgh');
    });

    it('copies byte ranges of an open file into a writable', async () => {
      const d = make();
      await d.putContent('f', Buffer.from('0123456789'));
      const f = await d.openFile('f');
      assert.equal(f.size, 10);
      const sink = new PassThrough();
      const parts: Buffer[] = [];
      sink.on('data', (c: Buffer) => parts.push(c));
      await f.copyTo(sink, 2, 6);
      await f.close();
      assert.equal(Buffer.concat(parts).toString(), '23456');
      await assert.rejects(d.openFile('missing'), notFound);
      const r = await d.reader('f', { start: 8, end: 9 });
      const got: Buffer[] = [];
      for await (const c of r) got.push(c as Buffer);
      assert.equal(Buffer.concat(got).toString(), '89');
    });

    it('lists, moves and deletes', async () => {
      const d = make();
      await d.putContent('dir/one', '1');
      await d.putContent('dir/two', '2');
      assert.deepEqual((await d.list('dir')).sort(), ['one', 'two']);
      await d.move('dir/one', 'other/deep/one');
      assert.equal((await d.getContent('other/deep/one')).toString(), '1');
      await assert.rejects(d.move('dir/one', 'x'), notFound);
      await d.delete('dir');
      await d.delete('dir');
      await assert.rejects(d.list('dir'), notFound);
    });

    it('refuses paths that would leave the root', async () => {
      const d = make();
      for (const p of ['../x', 'a/../../x', '/etc/passwd', './x']) await assert.rejects(d.getContent(p), /outside the root/);
    });
  });
}
