// The storage driver contract as one suite, run against every driver (as distribution tests
// its drivers): the filesystem driver in test/unit, the S3 driver on radosgw in test/integration.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { it } from 'node:test';
import { PathNotFoundError, type StorageDriver } from '../../src/registry/storage/driver.js';

const notFound = (e: unknown) => e instanceof PathNotFoundError;
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Registers the contract's tests in the current describe(). `make` gives a driver on empty
 * storage; `leftovers` names what a driver keeps of writes that were committed or cancelled
 * (temporary files, unfinished multipart uploads): it must be nothing.
 */
export function driverContract(make: () => StorageDriver, leftovers: (d: StorageDriver) => Promise<string[]>): void {
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
    assert.deepEqual(await leftovers(d), []);
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
    assert.deepEqual(await leftovers(d), []);
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

  it('streams objects larger than one S3 part through writer, appendWriter and reader', async () => {
    const d = make();
    const a = randomBytes(6 * MiB + 123);
    const b = randomBytes(11 * MiB + 7);
    const w = await d.writer('big/data');
    w.stream.write(a);
    w.stream.end(b);
    await w.commit();
    const whole = Buffer.concat([a, b]);
    assert.equal(sha(await d.getContent('big/data')), sha(whole));
    assert.equal((await d.stat('big/data')).size, whole.length);
    // Append past a torn tail: offset after `a`, beyond S3's 5 MiB part minimum.
    const c = randomBytes(3 * MiB);
    const ap = await d.appendWriter('big/data', { offset: a.length });
    ap.stream.end(c);
    await ap.commit();
    assert.equal(ap.written(), c.length);
    assert.equal(sha(await d.getContent('big/data')), sha(Buffer.concat([a, c])));
    const r = await d.reader('big/data', { start: a.length - 10, end: a.length + 9 });
    const got: Buffer[] = [];
    for await (const x of r) got.push(x as Buffer);
    assert.deepEqual(Buffer.concat(got), Buffer.concat([a.subarray(-10), c.subarray(0, 10)]));
    const cancelled = await d.appendWriter('big/data', { offset: a.length + c.length });
    cancelled.stream.write(randomBytes(9 * MiB));
    await cancelled.cancel();
    assert.equal((await d.stat('big/data')).size, a.length + c.length);
    assert.deepEqual(await leftovers(d), []);
  });

  it('does not list a file as a directory, and stat tells the two apart', async () => {
    // Replication reads its queue by listing: "not found" is an empty queue only when nothing,
    // not a file, is at that path.
    const d = make();
    await d.putContent('records/one.json', '{}');
    await assert.rejects(d.list('records/one.json'), notFound);
    assert.equal((await d.stat('records/one.json')).isDirectory, false);
    assert.equal((await d.stat('records')).isDirectory, true);
    assert.deepEqual(await d.list('records'), ['one.json']);
    await d.delete('records/one.json');
    await assert.rejects(d.getContent('records/one.json'), notFound);
    assert.deepEqual(await leftovers(d), []);
  });

  it('refuses paths that would leave the root', async () => {
    const d = make();
    for (const p of ['../x', 'a/../../x', '/etc/passwd', './x']) await assert.rejects(d.getContent(p), /outside the root/);
  });
}
