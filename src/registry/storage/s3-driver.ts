// The S3 driver: the storage contract on one bucket (and key prefix). S3 has objects, not files:
// a "directory" is any key prefix ending in '/', it exists while an object lies under it, and
// PUT and CompleteMultipartUpload are atomic replacements (what putContent and commit need).
// move is copy + delete (a reader may briefly see both, never a torn object).
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { PathNotFoundError, type AppendOptions, type FileInfo, type FileWriter, type OpenFile, type StorageDriver } from './driver.js';
import { storageFault, type S3Client } from './s3-client.js';
import { S3Appends } from './s3-append.js';
import { PartWriter } from './s3-part-writer.js';

/** Objects above this are moved by multipart part copies (one CopyObject copies at most 5 GiB). */
const SINGLE_COPY_LIMIT = 5 * 1024 * 1024 * 1024;
const COPY_PART_BYTES = 512 * 1024 * 1024;

const destinationClosed = () => Object.assign(new Error('destination closed before the copy finished'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/** Resolves on 'drain', rejects when `dest` closes first. */
function drained(dest: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onClose = () => reject(destinationClosed());
    dest.once('drain', () => {
      dest.off('close', onClose);
      resolve();
    });
    dest.once('close', onClose);
  });
}

/** Writes a stream's chunks into `dest` with backpressure, without ending it; `fault` converts src's errors. */
async function pipeInto(src: Readable, dest: Writable, fault: (err: unknown) => unknown): Promise<void> {
  try {
    for await (const chunk of src) {
      if (dest.destroyed) throw destinationClosed();
      if (!dest.write(chunk)) await drained(dest);
    }
  } catch (err) {
    throw fault(err);
  } finally {
    // A client that went away must not leave the S3 response (and its connection) half read.
    src.destroy();
  }
}

export class S3Driver implements StorageDriver {
  readonly root: string;
  private readonly appends: S3Appends;

  constructor(
    private readonly client: S3Client,
    private readonly prefix = '',
  ) {
    this.root = `s3://${client.location.bucket}/${prefix}`;
    this.appends = new S3Appends(client);
  }

  private key(path: string): string {
    if (path.startsWith('/') || path.split('/').some((c) => c === '..' || c === '.')) {
      throw new Error(`refusing storage path outside the root: ${path}`);
    }
    return this.prefix + path;
  }

  async getContent(path: string): Promise<Buffer> {
    const data = await this.client.getBuffer(this.key(path));
    if (!data) throw new PathNotFoundError(path);
    return data;
  }

  /** What a body stream's error becomes: StorageError `unavailable` for a connection fault (s3-client.ts). */
  private bodyFault(key: string): (err: unknown) => unknown {
    return (err) => storageFault(err, `S3 GET ${key}`, this.client.timeouts);
  }

  async putContent(path: string, data: Buffer | string): Promise<void> {
    await this.client.put(this.key(path), data);
  }

  async reader(path: string, range?: { start: number; end: number }): Promise<Readable> {
    const key = this.key(path);
    const body = await this.client.get(key, range);
    if (!body) throw new PathNotFoundError(path);
    // Through a PassThrough so a stalled body fails its reader with a StorageError.
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    const fault = this.bodyFault(key);
    body.once('error', (err) => out.destroy(fault(err) as Error));
    out.once('close', () => body.destroy());
    return body.pipe(out);
  }

  async openFile(path: string): Promise<OpenFile> {
    const key = this.key(path);
    const head = await this.client.head(key);
    if (!head) throw new PathNotFoundError(path);
    return {
      size: head.size,
      copyTo: async (dest, start, end) => {
        if (end < start) return;
        const body = await this.client.get(key, { start, end });
        if (!body) throw new PathNotFoundError(path);
        await pipeInto(body, dest, this.bodyFault(key));
      },
      close: async () => undefined,
    };
  }

  async writer(path: string): Promise<FileWriter> {
    return this.partWriter(path);
  }

  /** Upload data: a multipart upload continued chunk by chunk, its state in the bucket (s3-append.ts). */
  async appendWriter(path: string, options: AppendOptions): Promise<FileWriter & { written: () => number }> {
    return this.appends.writer(this.key(path), options.offset);
  }

  async finishAppends(path: string, size: number): Promise<void> {
    await this.appends.finish(this.key(path), size);
  }

  private partWriter(path: string): FileWriter {
    const stream = new PartWriter(this.client, this.key(path));
    let done = false;
    return {
      stream,
      commit: async () => {
        await stream.commit();
        done = true;
      },
      cancel: async () => {
        if (done) return;
        done = true;
        await stream.cancel();
      },
    };
  }

  async stat(path: string): Promise<FileInfo> {
    const key = this.key(path);
    const head = await this.client.head(key);
    if (head) return { size: head.size, isDirectory: false, modifiedMs: head.modifiedMs };
    const page = await this.client.list(`${key}/`, undefined, undefined, 1);
    if (page.keys.length > 0) return { size: 0, isDirectory: true, modifiedMs: 0 };
    throw new PathNotFoundError(path);
  }

  async list(path: string): Promise<string[]> {
    const base = `${this.key(path)}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.list(base, '/', token);
      for (const k of page.keys) names.push(k.slice(base.length));
      for (const p of page.prefixes) names.push(p.slice(base.length, -1));
      token = page.nextToken;
    } while (token);
    if (names.length === 0) throw new PathNotFoundError(path);
    return names;
  }

  async move(from: string, to: string): Promise<void> {
    const src = this.key(from);
    const dst = this.key(to);
    const head = await this.client.head(src);
    if (!head) throw new PathNotFoundError(from);
    if (head.size <= SINGLE_COPY_LIMIT) await this.client.copy(src, dst);
    else await this.copyInParts(src, dst, head.size);
    await this.client.delete(src);
  }

  private async copyInParts(src: string, dst: string, size: number): Promise<void> {
    const id = await this.client.createMultipart(dst);
    try {
      const etags: string[] = [];
      for (let start = 0; start < size; start += COPY_PART_BYTES) {
        etags.push(await this.client.uploadPartCopy(dst, id, etags.length + 1, src, start, Math.min(size, start + COPY_PART_BYTES) - 1));
      }
      await this.client.completeMultipart(dst, id, etags);
    } catch (err) {
      await this.client.abortMultipart(dst, id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Every multipart upload under the prefix begun before `beforeMs`. The purge passes the age past
   * which upload sessions are removed: a session's uploads begin after the session does, so one
   * older than that belongs to a session being purged, or to no session (its writer died, or ran
   * on after the session was deleted, which aborted the uploads there were then).
   */
  async abortIncompleteWrites(beforeMs: number): Promise<number> {
    let aborted = 0;
    for (const u of await this.client.listMultipartUploads(this.prefix)) {
      if (!(u.initiatedMs < beforeMs)) continue;
      await this.client.abortMultipart(u.key, u.uploadId);
      aborted++;
    }
    return aborted;
  }

  /** A presigned GET (SigV4 in the query); S3 checks the expiry when the download starts. */
  downloadUrl(path: string, expiresMs: number): string {
    return this.client.presignGet(this.key(path), Math.ceil(expiresMs / 1000)).toString();
  }

  /**
   * Deletes the key and every object under `path/`. A directory's multipart uploads (upload
   * sessions, see s3-append.ts) are aborted first: were the objects deleted first, a crash in
   * between would leave uploads no session directory leads the purge to. (A `writer()` into a
   * directory being deleted therefore fails at commit, where the filesystem would recreate it.)
   */
  async delete(path: string): Promise<void> {
    const key = this.key(path);
    let page = await this.client.list(`${key}/`, undefined);
    if (page.keys.length > 0) await this.appends.abortUnder(`${key}/`);
    await this.client.delete(key);
    for (;;) {
      // One page of up to 1000 keys at a time: list it, delete it in one request, go on.
      if (page.keys.length > 0) await this.client.deleteMany(page.keys);
      if (!page.nextToken) return;
      page = await this.client.list(`${key}/`, undefined, page.nextToken);
    }
  }
}
