// A minimal S3 client: undici requests signed with SigV4, path-style addressing. Chosen over the
// AWS SDK v3 and the MinIO client by measurement (bench/s3-clients.ts, bench/RESULTS.md): it
// streams a 256 MiB PUT in ~3 MiB of RSS (MinIO's client buffers 64 MiB parts), has the highest
// small-object rates, and adds no dependency.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { connectionFaultOf, DEFAULT_S3_TIMEOUTS, describeConnectionFault, mayRetry, type S3Timeouts } from './s3-faults.js';
import { EMPTY_SHA256, presignUrl, signRequest, sha256Hex, UNSIGNED_PAYLOAD, uriEncode, type S3Credentials } from './s3-sigv4.js';
import { StorageError } from './storage-error.js';
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
  /**
   * `http(s)://host:port` clients reach the same S3 API at, for presigned URLs (`endpoint` when
   * unset). SigV4 signs the host, so it must reach S3 with that Host header unchanged.
   */
  publicEndpoint?: string;
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

/** A response with the request it answers (`S3 GET /bucket/key`), for errors and logs. */
type S3Response = Dispatcher.ResponseData & { what: string };

/** The abort reason of a request whose deadline passed (s3-faults.ts maps its code). */
class DeadlineError extends Error {
  readonly code = 'S3_DEADLINE';
}

/**
 * The StorageError a connection fault becomes (`what` names the request, for the log); any other
 * error unchanged. Also for the bodies of streams `get` returned, which fail while being read.
 */
export function storageFault(err: unknown, what: string, timeouts: S3Timeouts): unknown {
  const fault = connectionFaultOf(err);
  if (fault === undefined) return err;
  const reason = `S3 ${describeConnectionFault(fault, timeouts, String((err as { code: string }).code))}`;
  return new StorageError({ kind: 'unavailable', reason }, `${what}: ${reason}`);
}

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
    readonly timeouts: S3Timeouts = DEFAULT_S3_TIMEOUTS,
  ) {
    // headersTimeout bounds what the call deadline does not: a streamed body's stalled writes
    // (undici restarts the timer at each write that meets a full socket) and the answer after it.
    this.dispatcher = new Agent({
      connections: 32,
      keepAliveTimeout: 10_000,
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.responseHeadersMs,
      bodyTimeout: timeouts.bodyIdleMs,
    });
  }

  private url(key: string | undefined, query: Record<string, string> = {}, endpoint = this.location.endpoint): URL {
    const { bucket, virtualHosted } = this.location;
    const encoded = key === undefined ? '' : uriEncode(key, true);
    const url = new URL(virtualHosted ? `/${encoded}` : `/${bucket}${key === undefined ? '' : `/${encoded}`}`, endpoint);
    if (virtualHosted) url.hostname = `${bucket}.${url.hostname}`;
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  /**
   * One S3 request, answered within the deadline of s3-faults.ts (sent a second time only as it
   * allows): its response, or an S3Error, or StorageError `unavailable` for a connection fault.
   */
  async call(method: Method, key: string | undefined, c: Call = {}): Promise<S3Response> {
    const url = this.url(key, c.query);
    const what = `S3 ${method} ${url.pathname}`;
    const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
    const streamed = body !== undefined && !Buffer.isBuffer(body);
    const payloadHash = body === undefined ? EMPTY_SHA256 : Buffer.isBuffer(body) ? sha256Hex(body) : UNSIGNED_PAYLOAD;
    const extra = { ...c.headers };
    const length = Buffer.isBuffer(body) ? body.length : c.length;
    if (length !== undefined) extra['content-length'] = String(length);
    const deadline = streamed ? undefined : performance.now() + this.timeouts.connectMs + this.timeouts.responseHeadersMs;
    const send = () => {
      const headers = signRequest({ method, url, headers: extra, payloadHash, region: this.location.region, now: new Date() }, this.credentials());
      return this.attempt(url, { method, headers, body, dispatcher: this.dispatcher }, deadline);
    };
    let res: Dispatcher.ResponseData;
    try {
      res = await send().catch((err: unknown) => {
        const fault = connectionFaultOf(err);
        if (fault === undefined || !mayRetry(fault, method, streamed, deadline === undefined ? 0 : deadline - performance.now())) throw err;
        return send();
      });
    } catch (err) {
      throw storageFault(err, what, this.timeouts);
    }
    const answer = Object.assign(res, { what });
    if (res.statusCode < 300 || c.ok?.includes(res.statusCode)) return answer;
    const text = method === 'HEAD' ? '' : await this.text(answer);
    if (method === 'HEAD') res.body.resume();
    const code = element(text, 'Code') ?? `HTTP${res.statusCode}`;
    throw new S3Error(res.statusCode, code, `${what}: ${res.statusCode} ${code} ${element(text, 'Message') ?? ''}`.trim());
  }

  /** The request, aborted when `deadline` (performance.now() time) passes before its response headers. */
  private async attempt(url: URL, options: NonNullable<Parameters<typeof request>[1]>, deadline: number | undefined): Promise<Dispatcher.ResponseData> {
    if (deadline === undefined) return request(url, options);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DeadlineError('deadline passed')), Math.max(0, deadline - performance.now()));
    try {
      return await request(url, { ...options, signal: abort.signal });
    } finally {
      clearTimeout(timer);
    }
  }

  private async text(res: S3Response): Promise<string> {
    return res.body.text().catch((err: unknown) => {
      throw storageFault(err, res.what, this.timeouts);
    });
  }

  private async done(res: S3Response): Promise<void> {
    await res.body.dump().catch((err: unknown) => {
      throw storageFault(err, res.what, this.timeouts);
    });
  }

  /** The whole object (or bytes [start, end] of it), or undefined when it does not exist. */
  async getBuffer(key: string, range?: { start: number; end: number }): Promise<Buffer | undefined> {
    const body = await this.get(key, range);
    if (!body) return undefined;
    const chunks: Buffer[] = [];
    try {
      for await (const c of body) chunks.push(c as Buffer);
    } catch (err) {
      throw storageFault(err, `S3 GET ${key}`, this.timeouts);
    }
    return Buffer.concat(chunks);
  }

  /** A URL that GETs the object without credentials for `expiresSeconds` (query-string SigV4). */
  presignGet(key: string, expiresSeconds: number, now = new Date()): URL {
    const url = this.url(key, {}, this.location.publicEndpoint ?? this.location.endpoint);
    return presignUrl({ method: 'GET', url, region: this.location.region, now }, this.credentials(), expiresSeconds);
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
    const text = await this.text(res);
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
    return parseListObjectsV2(await this.text(res));
  }

  async createMultipart(key: string): Promise<string> {
    const res = await this.call('POST', key, { query: { uploads: '' } });
    const id = element(await this.text(res), 'UploadId');
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
    const etag = element(await this.text(res), 'ETag');
    if (!etag) throw new S3Error(500, 'InternalError', `S3 part copy ${from} -> ${key}: no ETag`);
    return etag;
  }

  async completeMultipart(key: string, uploadId: string, etags: string[]): Promise<void> {
    const res = await this.call('POST', key, { query: { uploadId }, body: completeMultipartBody(etags) });
    // Like copy, completion can fail inside a 200 answer.
    const text = await this.text(res);
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
      const page = parseListMultipartUploads(await this.text(res));
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
      const page = parseListParts(await this.text(await this.call('GET', key, { query })));
      out.push(...page.parts);
      marker = page.nextMarker;
    } while (marker);
    return out;
  }
}
