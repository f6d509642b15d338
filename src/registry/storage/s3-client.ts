// A minimal S3 client: undici requests signed with SigV4, path-style addressing. Chosen over the
// AWS SDK v3 and the MinIO client by measurement (bench/s3-clients.ts, bench/RESULTS.md): it
// streams a 256 MiB PUT in ~3 MiB of RSS (MinIO's client buffers 64 MiB parts), has the highest
// small-object rates, and adds no dependency.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { EMPTY_SHA256, presignUrl, signRequest, sha256Hex, UNSIGNED_PAYLOAD, uriEncode, type S3Credentials } from './s3-sigv4.js';
import { completeMultipartBody, deleteObjectsBody, element, parseListMultipartUploads, parseListObjectsV2, parseListParts, type ListedPart, type ListPage, type MultipartUpload } from './s3-xml.js';

export interface S3Location {
  /** `http(s)://host:port` of the S3 API. */
  endpoint: string;
  region: string;
  bucket: string;
  /**
   * Virtual-hosted addressing (`bucket.host/key`, AWS's default) instead of path-style
   * (`host/bucket/key`, what S3-compatible servers expect). Default false.
   */
  virtualHosted?: boolean;
}

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

export interface ObjectHead {
  size: number;
  modifiedMs: number;
  etag: string;
}

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

interface Call {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Length of a streamed body (S3 refuses chunked uploads without aws-chunked signing). */
  length?: number;
  /** Statuses that are answers, not errors (404 for lookups, 206 for ranges). */
  ok?: number[];
}

export class S3Client {
  private readonly dispatcher: Dispatcher;

  constructor(
    readonly location: S3Location,
    private readonly credentials: () => S3Credentials,
    dispatcher?: Dispatcher,
  ) {
    this.dispatcher = dispatcher ?? new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  }

  private url(key: string | undefined, query: Record<string, string> = {}): URL {
    const { bucket, endpoint, virtualHosted } = this.location;
    const encoded = key === undefined ? '' : uriEncode(key, true);
    const url = new URL(virtualHosted ? `/${encoded}` : `/${bucket}${key === undefined ? '' : `/${encoded}`}`, endpoint);
    if (virtualHosted) url.hostname = `${bucket}.${url.hostname}`;
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  async call(method: Method, key: string | undefined, c: Call = {}): Promise<Dispatcher.ResponseData> {
    const url = this.url(key, c.query);
    const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
    const payloadHash = body === undefined ? EMPTY_SHA256 : Buffer.isBuffer(body) ? sha256Hex(body) : UNSIGNED_PAYLOAD;
    const extra = { ...c.headers };
    const length = Buffer.isBuffer(body) ? body.length : c.length;
    if (length !== undefined) extra['content-length'] = String(length);
    const headers = signRequest({ method, url, headers: extra, payloadHash, region: this.location.region, now: new Date() }, this.credentials());
    const res = await request(url, { method, headers, body, dispatcher: this.dispatcher });
    if (res.statusCode < 300 || c.ok?.includes(res.statusCode)) return res;
    const text = method === 'HEAD' ? '' : await res.body.text();
    if (method === 'HEAD') res.body.resume();
    const code = element(text, 'Code') ?? `HTTP${res.statusCode}`;
    throw new S3Error(res.statusCode, code, `S3 ${method} ${url.pathname}: ${res.statusCode} ${code} ${element(text, 'Message') ?? ''}`.trim());
  }

  private async done(res: Dispatcher.ResponseData): Promise<void> {
    await res.body.dump();
  }

  /** A URL that GETs the object without credentials for `expiresSeconds` (query-string SigV4). */
  presignGet(key: string, expiresSeconds: number, now = new Date()): URL {
    return presignUrl({ method: 'GET', url: this.url(key), region: this.location.region, now }, this.credentials(), expiresSeconds);
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    const res = await this.call('HEAD', key, { ok: [404] });
    await this.done(res);
    if (res.statusCode === 404) return undefined;
    return {
      size: Number(res.headers['content-length']),
      modifiedMs: Date.parse(String(res.headers['last-modified'])),
      etag: String(res.headers.etag),
    };
  }

  /** The object's bytes [start, end] as a stream, or undefined when it does not exist. */
  async get(key: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end}` } : {};
    const res = await this.call('GET', key, { headers, ok: [404] });
    if (res.statusCode === 404) {
      await this.done(res);
      return undefined;
    }
    return res.body;
  }

  async put(key: string, body: Buffer | string | Readable, length?: number): Promise<void> {
    await this.done(await this.call('PUT', key, { body, length }));
  }

  async copy(from: string, to: string): Promise<void> {
    const res = await this.call('PUT', to, { headers: { 'x-amz-copy-source': `/${this.location.bucket}/${uriEncode(from, true)}` } });
    // A copy can fail after its 200 status line: the error is then in the body.
    const text = await res.body.text();
    if (text.includes('<Error>')) throw new S3Error(500, element(text, 'Code') ?? 'InternalError', `S3 copy ${from} -> ${to}: ${text}`);
  }

  async delete(key: string): Promise<void> {
    await this.done(await this.call('DELETE', key, { ok: [404] }));
  }

  /** Deletes up to 1000 keys in one request. */
  async deleteMany(keys: string[]): Promise<void> {
    const body = deleteObjectsBody(keys);
    const md5 = createHash('md5').update(body).digest('base64');
    await this.done(await this.call('POST', undefined, { query: { delete: '' }, body, headers: { 'content-md5': md5 } }));
  }

  async list(prefix: string, delimiter: string | undefined, token?: string, maxKeys = 1000): Promise<ListPage> {
    const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(maxKeys) };
    if (delimiter) query.delimiter = delimiter;
    if (token) query['continuation-token'] = token;
    const res = await this.call('GET', undefined, { query });
    return parseListObjectsV2(await res.body.text());
  }

  async createMultipart(key: string): Promise<string> {
    const res = await this.call('POST', key, { query: { uploads: '' } });
    const id = element(await res.body.text(), 'UploadId');
    if (!id) throw new S3Error(500, 'InternalError', `S3 create multipart upload of ${key}: no UploadId`);
    return id;
  }

  /** Uploads part `partNumber` (1-based); returns its ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    const res = await this.call('PUT', key, { query: { partNumber: String(partNumber), uploadId }, body });
    await this.done(res);
    return String(res.headers.etag);
  }

  /** Copies bytes [start, end] of `from` as part `partNumber` of the upload; returns its ETag. */
  async uploadPartCopy(key: string, uploadId: string, partNumber: number, from: string, start: number, end: number): Promise<string> {
    const headers = { 'x-amz-copy-source': `/${this.location.bucket}/${uriEncode(from, true)}`, 'x-amz-copy-source-range': `bytes=${start}-${end}` };
    const res = await this.call('PUT', key, { query: { partNumber: String(partNumber), uploadId }, headers });
    const etag = element(await res.body.text(), 'ETag');
    if (!etag) throw new S3Error(500, 'InternalError', `S3 part copy ${from} -> ${key}: no ETag`);
    return etag;
  }

  async completeMultipart(key: string, uploadId: string, etags: string[]): Promise<void> {
    const res = await this.call('POST', key, { query: { uploadId }, body: completeMultipartBody(etags) });
    // Like copy, completion can fail inside a 200 answer.
    const text = await res.body.text();
    if (text.includes('<Error>')) throw new S3Error(500, element(text, 'Code') ?? 'InternalError', `S3 complete multipart ${key}: ${text}`);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.done(await this.call('DELETE', key, { query: { uploadId }, ok: [404] }));
  }

  /** Multipart uploads in progress whose key starts with `prefix`, every page. */
  async listMultipartUploads(prefix: string): Promise<MultipartUpload[]> {
    const out: MultipartUpload[] = [];
    let marker: { 'key-marker': string; 'upload-id-marker': string } | undefined;
    do {
      const res = await this.call('GET', undefined, { query: { uploads: '', prefix, ...marker } });
      const page = parseListMultipartUploads(await res.body.text());
      out.push(...page.uploads);
      marker = page.next && { 'key-marker': page.next.key, 'upload-id-marker': page.next.uploadId };
    } while (marker);
    return out;
  }

  /** Keys of multipart uploads in progress under `prefix`. */
  async listMultipart(prefix: string): Promise<string[]> {
    return (await this.listMultipartUploads(prefix)).map((u) => u.key);
  }

  /** The parts an upload holds so far, in part-number order, every page. */
  async listParts(key: string, uploadId: string): Promise<ListedPart[]> {
    const out: ListedPart[] = [];
    let marker: string | undefined;
    do {
      const query: Record<string, string> = { uploadId, ...(marker ? { 'part-number-marker': marker } : {}) };
      const page = parseListParts(await (await this.call('GET', key, { query })).body.text());
      out.push(...page.parts);
      marker = page.nextMarker;
    } while (marker);
    return out;
  }
}
