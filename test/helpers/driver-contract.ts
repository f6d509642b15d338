// The storage driver contract as one suite, run against every driver (as distribution tests
// its drivers): the filesystem driver in test/unit, the S3 driver on radosgw in test/integration.
import assert from 'node:assert/strict';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PathNotFoundError, type StorageDriver } from '../../src/registry/storage/driver.js';
import { parseDigest } from '../../src/oci/digest.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';
import { storagePath } from '../../src/registry/storage/paths.js';
import { StorageError } from '../../src/registry/storage/storage-error.js';
import type { DriverSpec } from './driver-spec.js';
import { startProcess } from './processes.js';

const notFound = (e: unknown) => e instanceof PathNotFoundError;
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CHILD = fileURLToPath(new URL('./append-child.js', import.meta.url));

/** Appends `data` at `offset` and commits it; returns the new size (what a caller acknowledges). */
async function append(d: StorageDriver, path: string, offset: number, data: Buffer): Promise<number> {
  const w = await d.appendWriter(path, { offset });
  w.stream.end(data);
  await w.commit();
  assert.equal(w.written(), data.length);
  return offset + data.length;
}

/** Runs append-child.ts until it reports `mode`'s progress, then SIGKILLs it. */
async function killedWriter(spec: DriverSpec, path: string, offset: number, mode: 'stream' | 'commit'): Promise<void> {
  const child = startProcess(process.execPath, [CHILD, JSON.stringify(spec), path, String(offset), mode]);
  const word = mode === 'commit' ? 'COMMITTED' : 'WROTE';
  try {
    while (!child.output().includes(word)) {
      if (child.child.exitCode !== null) throw new Error(`append child exited: ${child.output()}`);
      await sleep(50);
    }
  } finally {
    await child.stop('SIGKILL');
  }
}

/** Live external (Buffer) memory after a full collection: what the code under test holds. */
const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
function liveBufferBytes(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** `mib` MiB of distinct bytes, one MiB at a time, calling `onMiB` before each. */
async function* generated(mib: number, hash: Hash, onMiB: (i: number) => void): AsyncGenerator<Buffer> {
  const base = randomBytes(MiB);
  for (let i = 0; i < mib; i++) {
    onMiB(i);
    const chunk = Buffer.from(base);
    chunk.writeUInt32LE(i, 0);
    hash.update(chunk);
    yield chunk;
  }
}

export interface DriverUnderTest {
  /** A driver on empty storage. */
  make(): StorageDriver;
  /** Another instance on the same storage as `d`: a second replica. */
  sibling(d: StorageDriver): StorageDriver;
  /** `d`'s storage as JSON for a child process (driver-spec.ts). */
  spec(d: StorageDriver): DriverSpec;
  /**
   * What a driver keeps of writes that were committed or cancelled, or of directories deleted
   * (temporary files, multipart uploads): it must be nothing.
   */
  leftovers(d: StorageDriver): Promise<string[]>;
}

/** Registers the contract's tests in the current describe(). */
export function driverContract(t: DriverUnderTest): void {
  const make = () => t.make();
  const leftovers = (d: StorageDriver) => t.leftovers(d);
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
    await d.finishAppends('u/data', 8);
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
    await d.finishAppends('big/data', a.length + c.length);
    assert.equal(sha(await d.getContent('big/data')), sha(Buffer.concat([a, c])));
    const r = await d.reader('big/data', { start: a.length - 10, end: a.length + 9 });
    const got: Buffer[] = [];
    for await (const x of r) got.push(x as Buffer);
    assert.deepEqual(Buffer.concat(got), Buffer.concat([a.subarray(-10), c.subarray(0, 10)]));
    const cancelled = await d.appendWriter('big/data', { offset: a.length + c.length });
    cancelled.stream.write(randomBytes(9 * MiB));
    await cancelled.cancel();
    await d.finishAppends('big/data', a.length + c.length);
    assert.equal((await d.stat('big/data')).size, a.length + c.length);
    assert.equal(sha(await d.getContent('big/data')), sha(Buffer.concat([a, c])));
    await d.delete('big');
    assert.deepEqual(await leftovers(d), []);
  });

  it('continues an appended file from another instance, staging chunks smaller than a part', async () => {
    const d = make();
    const e = t.sibling(d);
    const chunks = [MiB, 2 * MiB, MiB + 1234, 3 * MiB, 100, 9 * MiB + 5, 7].map((n) => randomBytes(n));
    let size = 0;
    for (const [i, c] of chunks.entries()) size = await append(i % 2 ? e : d, 's/data', size, c);
    // An empty append at the acknowledged size (cutting back a torn tail) changes nothing.
    size = await append(e, 's/data', size, Buffer.alloc(0));
    await d.finishAppends('s/data', size);
    await e.finishAppends('s/data', size);
    assert.equal(sha(await e.getContent('s/data')), sha(Buffer.concat(chunks)));
    await d.delete('s');
    assert.deepEqual(await leftovers(d), []);
  });

  it('resumes from the last acknowledged offset after a writer killed mid-chunk and one killed after an unacknowledged commit', async () => {
    const d = make();
    const e = t.sibling(d);
    const a = randomBytes(7 * MiB);
    const acked = await append(d, 'k/data', 0, a);
    await killedWriter(t.spec(d), 'k/data', acked, 'stream');
    await killedWriter(t.spec(d), 'k/data', acked, 'commit');
    const b = randomBytes(3 * MiB);
    const size = await append(e, 'k/data', acked, b);
    await e.finishAppends('k/data', size);
    assert.equal(sha(await d.getContent('k/data')), sha(Buffer.concat([a, b])));
    await d.delete('k');
    assert.deepEqual(await leftovers(d), []);
  });

  it('reopens a finished file for a retried final chunk or a retried commit', async () => {
    const d = make();
    const e = t.sibling(d);
    for (const prefixBytes of [2 * MiB, 6 * MiB]) {
      const path = `r/${prefixBytes}/data`;
      const prefix = randomBytes(prefixBytes);
      const acked = await append(d, path, 0, prefix);
      // A final chunk appended and finished, then the commit failed before it was acknowledged.
      await d.finishAppends(path, await append(d, path, acked, randomBytes(MiB)));
      await e.finishAppends(path, acked);
      assert.equal(sha(await d.getContent(path)), sha(prefix));
      const retry = randomBytes(2 * MiB);
      const size = await append(e, path, acked, retry);
      await e.finishAppends(path, size);
      await d.finishAppends(path, size);
      assert.equal(sha(await d.getContent(path)), sha(Buffer.concat([prefix, retry])));
    }
    await d.delete('r');
    assert.deepEqual(await leftovers(d), []);
  });

  it('leaves nothing of an unfinished append when its directory is deleted, or purged as a stale upload', async () => {
    const d = make();
    await append(d, 'p/data', 0, randomBytes(6 * MiB));
    await d.delete('p');
    await assert.rejects(d.stat('p'), notFound);
    assert.deepEqual(await leftovers(d), []);
    const store = new ImageStore(d);
    const session = await store.uploads.create('lib/app');
    await store.uploads.append('lib/app', session.id, Readable.from([randomBytes(6 * MiB)]));
    // Abandoned (its replica crashed): the purge of sessions older than 0 ms removes it.
    assert.equal(await store.purgeStaleUploads(0, Date.now() + 1000), 1);
    await assert.rejects(store.uploads.status('lib/app', session.id));
    assert.deepEqual(await leftovers(d), []);
  });

  it('commits an upload session on another instance than the one that received its chunks', async () => {
    const d = make();
    const a = new ImageStore(d);
    const b = new ImageStore(t.sibling(d));
    const chunks = [randomBytes(3 * MiB), randomBytes(6 * MiB), randomBytes(MiB)];
    const digest = parseDigest(`sha256:${sha(Buffer.concat(chunks))}`)!;
    const good = await a.uploads.create('lib/app');
    await a.uploads.append('lib/app', good.id, Readable.from([chunks[0]]), { start: 0, length: chunks[0].length });
    await b.uploads.append('lib/app', good.id, Readable.from([chunks[1]]), { start: chunks[0].length, length: chunks[1].length });
    // b has no running hash of the first chunk: it reads the finished object back to verify.
    const info = await b.uploads.commit('lib/app', good.id, digest, Readable.from([chunks[2]]));
    assert.equal(info.size, 10 * MiB);
    assert.equal(sha(await d.getContent(storagePath({ kind: 'blobData', digest }))), digest.hex);
    const bad = await a.uploads.create('lib/app');
    await a.uploads.append('lib/app', bad.id, Readable.from([chunks[1]]));
    await assert.rejects(b.uploads.commit('lib/app', bad.id, parseDigest(`sha256:${'0'.repeat(64)}`)!), (e: unknown) => e instanceof StorageError && e.fault.kind === 'digestMismatch');
    await assert.rejects(a.uploads.status('lib/app', bad.id));
    assert.deepEqual(await d.list('repositories/lib/app/_uploads').catch(() => []), []);
    assert.deepEqual(await leftovers(d), []);
  });

  it('holds a bounded amount of memory while a blob of many parts is appended and read back', async () => {
    const d = make();
    const e = t.sibling(d);
    const half = 96;
    const baseline = liveBufferBytes();
    let peak = 0;
    const sample = (i: number) => {
      if (i % 8 === 0) peak = Math.max(peak, liveBufferBytes() - baseline);
    };
    const written = createHash('sha256');
    let size = 0;
    for (const driver of [d, e]) {
      const w = await driver.appendWriter('m/data', { offset: size });
      await pipeline(Readable.from(generated(half, written, sample)), w.stream);
      await w.commit();
      size += half * MiB;
    }
    await d.finishAppends('m/data', size);
    const read = createHash('sha256');
    let readBytes = 0;
    for await (const c of await e.reader('m/data')) {
      read.update(c as Buffer);
      readBytes += (c as Buffer).length;
      if (readBytes % (8 * MiB) < (c as Buffer).length) sample(0);
    }
    assert.equal(read.digest('hex'), written.digest('hex'));
    // A few parts of 8 MiB in flight at most, whatever the blob size (here 192 MiB).
    assert.ok(peak < 40 * MiB, `live buffers grew by ${(peak / MiB).toFixed(1)} MiB for a ${2 * half} MiB blob`);
    await d.delete('m');
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
