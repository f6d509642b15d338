// A Writable that turns a stream of unknown length into one S3 object: bytes are gathered into
// parts of PART_BYTES; a stream that never fills one part becomes a single PUT at commit, a
// longer one a multipart upload (one part in flight: memory stays about two parts whatever
// the size). Nothing is visible at the key until `commit()` completes the upload.
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { S3Client } from './s3-client.js';

/** 8 MiB: above S3's 5 MiB minimum for all parts but the last. */
export const PART_BYTES = 8 * 1024 * 1024;
/** S3's smallest part but the last one. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/** What the upload starts from: bytes kept from an earlier object (appendWriter at an offset). */
export interface PartPrefix {
  /** Bytes [0, offset) of `from` that the object begins with. */
  from: string;
  offset: number;
  /** When offset < MIN_PART_BYTES the bytes themselves (a copied part would be too small). */
  bytes?: Buffer;
}

export class PartWriter extends Writable {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private uploadId: string | undefined;
  private etags: string[] = [];
  private inflight: Promise<void> = Promise.resolve();
  written = 0;

  constructor(
    private readonly client: S3Client,
    private readonly key: string,
    private readonly prefix?: PartPrefix,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    if (prefix?.bytes) this.keep(prefix.bytes);
  }

  private keep(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.keep(chunk);
    this.written += chunk.length;
    if (this.pendingBytes < PART_BYTES) return cb();
    const flushing = this.flushPart();
    this.inflight = flushing.catch(() => undefined);
    flushing.then(() => cb(), cb);
  }

  /** Waits for the part in flight, so a cancel sees the upload id it created and aborts it. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const settle = () => cb(err);
    this.inflight.then(settle, settle);
  }

  private async ensureUpload(): Promise<string> {
    if (this.uploadId) return this.uploadId;
    this.uploadId = await this.client.createMultipart(this.key);
    if (this.prefix && !this.prefix.bytes && this.prefix.offset > 0) {
      this.etags.push(await this.client.uploadPartCopy(this.key, this.uploadId, 1, this.prefix.from, 0, this.prefix.offset - 1));
    }
    return this.uploadId;
  }

  private async flushPart(): Promise<void> {
    const id = await this.ensureUpload();
    const body = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.etags.push(await this.client.uploadPart(this.key, id, this.etags.length + 1, body));
  }

  /** Ends the stream and makes the object visible at the key. */
  async commit(): Promise<void> {
    if (!this.writableEnded) this.end();
    await finished(this);
    const needsMultipart = this.uploadId !== undefined || (this.prefix !== undefined && !this.prefix.bytes && this.prefix.offset > 0);
    if (!needsMultipart) {
      await this.client.put(this.key, Buffer.concat(this.pending, this.pendingBytes));
      return;
    }
    if (this.pendingBytes > 0) await this.flushPart();
    else await this.ensureUpload();
    await this.client.completeMultipart(this.key, this.uploadId!, this.etags);
  }

  /** Discards everything: the key keeps what it had before. */
  async cancel(): Promise<void> {
    if (!this.destroyed) this.destroy();
    await finished(this).catch(() => undefined);
    this.pending = [];
    if (this.uploadId) await this.client.abortMultipart(this.key, this.uploadId);
  }
}
