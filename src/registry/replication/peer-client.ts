// HTTP client for a peer replica's OCI distribution API: everything replication sends or asks
// travels through the standard API, so any OCI registry can be a replication target.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { splitCredentials } from '../../net/credentials.js';
import type { UpstreamTls } from '../../net/upstream-tls.js';
import { deletedAtHeader, REPLICATION_HEADER, REPLICATION_STATE_PATH, REPLICATION_TIME_HEADER } from '../../oci/replication-headers.js';
import { MANIFEST_ACCEPT, MEDIA_TYPES } from '../../oci/media-types.js';
import { DIGEST_HEADER, OCI_TAG_HEADER } from '../../oci/protocol-headers.js';

export interface PeerOptions {
  url: string;
  username?: string;
  password?: string;
  /** Id of this replica, sent in the replication header. */
  origin: string;
  /** A request with no bytes moving for this long fails as unavailable. */
  idleTimeoutMs: number;
  /** https:// peers: CA, client certificate, SNI name, verification. */
  tls?: UpstreamTls;
}

/** `unavailable`: connect error, timeout, 5xx (try again later). `refused`: the peer said no (4xx). */
export class PeerError extends Error {
  constructor(
    readonly kind: 'unavailable' | 'refused',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

export interface PeerManifest {
  body: Buffer;
  mediaType: string;
  digest?: string;
}

interface Call {
  method: string;
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | Readable;
  /** A shorter wait than the idle timeout for the response to start; the body then gets the idle timeout. */
  answerWithinMs?: number;
}

/**
 * Connections kept open to one peer at most. The background queue copies `concurrency` tasks
 * (default 4) at once, each with up to COPY_CONCURRENCY blobs in flight, beside the ack copies and
 * on-demand fetches: 16 covers that default; more requests wait for a free connection.
 */
export const PEER_MAX_SOCKETS = 16;

export class PeerClient {
  readonly url: string;
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly auth?: string;

  /** `agent`: the connections of another client to the same peer (see withIdleTimeout). */
  constructor(private readonly options: PeerOptions, agent?: HttpAgent) {
    // `user:password@` in the URL: used as Basic auth unless username/password are set, and kept
    // out of this.url, which error messages (and so logs) show.
    const split = splitCredentials(options.url);
    this.url = split.url.replace(/\/+$/, '');
    this.base = new URL(this.url);
    const agentOptions = { keepAlive: true, maxSockets: PEER_MAX_SOCKETS, keepAliveMsecs: 1000 };
    this.agent = agent ?? (this.base.protocol === 'https:' ? new HttpsAgent({ ...agentOptions, ...options.tls }) : new HttpAgent(agentOptions));
    if (options.username !== undefined) this.auth = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    else this.auth = split.authorization;
  }

  /** The same peer over the same connections, with another idle timeout (e.g. an ack's). */
  withIdleTimeout(idleTimeoutMs: number): PeerClient {
    return new PeerClient({ ...this.options, idleTimeoutMs }, this.agent);
  }

  /** Closes the connections (those of every client made by withIdleTimeout too). */
  close(): void {
    this.agent.destroy();
  }

  /** Sends one request; resolves with the response (body not consumed) or rejects with PeerError('unavailable'). */
  private send(call: Call, time?: number): Promise<IncomingMessage> {
    const target = new URL(call.path, this.base);
    const headers: OutgoingHttpHeaders = { [REPLICATION_HEADER]: this.options.origin, ...call.headers };
    if (time !== undefined) headers[REPLICATION_TIME_HEADER] = String(time);
    if (this.auth) headers.authorization = this.auth;
    if (Buffer.isBuffer(call.body)) headers['content-length'] = call.body.length;
    const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(err instanceof PeerError ? err : new PeerError('unavailable', `${call.method} ${this.url}${call.path}: ${err.message}`));
      const idleMs = this.options.idleTimeoutMs;
      const req = requestFn(target, { method: call.method, headers, agent: this.agent }, (res) => {
        // A body that stops moving fails the read (a blob streamed on demand must not hang a client).
        res.setTimeout(idleMs, () => res.destroy(new Error(`response stalled for ${idleMs} ms`)));
        resolve(res);
      });
      const answerMs = call.answerWithinMs ?? idleMs;
      req.setTimeout(answerMs, () => req.destroy(new Error(`no answer for ${answerMs} ms`)));
      req.on('error', fail);
      if (call.body === undefined) req.end();
      else if (Buffer.isBuffer(call.body)) req.end(call.body);
      else pipeline(call.body, req).catch((err: Error) => { req.destroy(err); fail(err); });
    });
  }

  /** Sends, reads the whole (small) body, and classifies the status. */
  private async exchange(call: Call, okStatuses: number[], time?: number): Promise<{ res: IncomingMessage; body: Buffer }> {
    const res = await this.send(call, time);
    const body = await readAll(res, `${call.method} ${call.path}`);
    if (okStatuses.includes(res.statusCode ?? 0)) return { res, body };
    throw statusError(`${call.method} ${this.url}${call.path}`, res.statusCode ?? 0, body);
  }

  async ping(): Promise<void> {
    await this.exchange({ method: 'GET', path: '/v2/' }, [200]);
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    return (await this.headBlob(repo, digest)).present;
  }

  /** Whether the peer serves the blob, and when it is absent because the peer deleted its link, the delete's time. */
  async headBlob(repo: string, digest: string): Promise<{ present: boolean; deletedAt?: number }> {
    const { res } = await this.exchange({ method: 'HEAD', path: `/v2/${repo}/blobs/${digest}` }, [200, 404]);
    return res.statusCode === 200 ? { present: true } : { present: false, deletedAt: deletedAtHeader(res.headers) };
  }

    /**
   * POST then PUT with the whole blob: the upload form every registry supports. `body` is owned
   * from here on: it is destroyed on every failure, so a local file behind it is closed at once
   * (a POST refused by a dying peer used to leave it to the garbage collector, DEP0137). `time`
   * (the write the copy belongs to) lets a peer that deleted the blob's link later keep it deleted.
   */
  async putBlob(repo: string, digest: string, size: number, body: Readable, time?: number): Promise<void> {
    try {
      const { res } = await this.exchange({ method: 'POST', path: `/v2/${repo}/blobs/uploads/` }, [202]);
      const location = res.headers.location;
      if (!location) throw new PeerError('unavailable', `POST ${this.url}/v2/${repo}/blobs/uploads/: no Location`);
      const target = new URL(location, `${this.url}/`);
      target.searchParams.set('digest', digest);
      await this.exchange(
        { method: 'PUT', path: `${target.pathname}${target.search}`, headers: { 'content-type': 'application/octet-stream', 'content-length': size }, body },
        [201],
        time,
      );
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  /** Digest and media type of a manifest, or undefined when the peer does not have it. */
  async headManifest(repo: string, reference: string): Promise<{ digest?: string; mediaType?: string } | undefined> {
    const { res } = await this.exchange({ method: 'HEAD', path: `/v2/${repo}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } }, [200, 404]);
    if (res.statusCode === 404) return undefined;
    return { digest: headerValue(res.headers[DIGEST_HEADER]), mediaType: headerValue(res.headers['content-type']) };
  }

  async getManifest(repo: string, reference: string): Promise<PeerManifest | undefined> {
    const { res, body } = await this.exchange({ method: 'GET', path: `/v2/${repo}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } }, [200, 404]);
    if (res.statusCode === 404) return undefined;
    return { body, mediaType: headerValue(res.headers['content-type']) ?? MEDIA_TYPES.ociManifest, digest: headerValue(res.headers[DIGEST_HEADER]) };
  }

  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string, time: number): Promise<void> {
    await this.exchange({ method: 'PUT', path: `/v2/${repo}/manifests/${reference}`, headers: { 'content-type': mediaType }, body }, [201], time);
  }

  /**
   * PUT by digest with `?tag=` (distribution-spec 1.1): the peer keeps the manifest under its
   * digest whatever the algorithm. False when the peer ignored the tag (no `OCI-Tag` answer).
   */
  async putManifestWithTag(repo: string, digest: string, tag: string, body: Buffer, mediaType: string, time: number): Promise<boolean> {
    const path = `/v2/${repo}/manifests/${digest}?tag=${encodeURIComponent(tag)}`;
    const { res } = await this.exchange({ method: 'PUT', path, headers: { 'content-type': mediaType }, body }, [201], time);
    return headerValue(res.headers[OCI_TAG_HEADER])?.split(',').some((t) => t.trim() === tag) ?? false;
  }

  /** Deletes a manifest or tag; a peer that never had it counts as done. */
  async deleteManifest(repo: string, reference: string, time: number): Promise<void> {
    await this.exchange({ method: 'DELETE', path: `/v2/${repo}/manifests/${reference}` }, [200, 202, 204, 404], time);
  }

  /** Deletes the repository's link to a blob; a peer that never had it counts as done. */
  async deleteBlob(repo: string, digest: string, time: number): Promise<void> {
    await this.exchange({ method: 'DELETE', path: `/v2/${repo}/blobs/${digest}` }, [202, 404], time);
  }

  /** The blob as a stream (the caller verifies the digest), or undefined on 404. */
  async getBlob(repo: string, digest: string, answerWithinMs?: number): Promise<{ stream: IncomingMessage; size?: number } | undefined> {
    const res = await this.send({ method: 'GET', path: `/v2/${repo}/blobs/${digest}`, answerWithinMs });
    if (res.statusCode === 200) {
      const len = res.headers['content-length'];
      return { stream: res, size: len === undefined ? undefined : Number(len) };
    }
    const body = await readAll(res, 'GET blob');
    if (res.statusCode === 404) return undefined;
    throw statusError(`GET ${this.url}/v2/${repo}/blobs/${digest}`, res.statusCode ?? 0, body);
  }

  /**
   * The peer's replication epoch (a random id that changes when its storage is replaced), or
   * undefined when it has none: a registry that is not a ha-proxy replica, or one without peers.
   */
  async replicationEpoch(): Promise<string | undefined> {
    const { res, body } = await this.exchange({ method: 'GET', path: REPLICATION_STATE_PATH }, [200, 400, 401, 403, 404, 405]);
    if (res.statusCode !== 200) return undefined;
    try {
      const epoch = (JSON.parse(body.toString('utf8')) as { epoch?: unknown }).epoch;
      return typeof epoch === 'string' && epoch !== '' ? epoch : undefined;
    } catch {
      return undefined;
    }
  }

  async catalog(): Promise<string[]> {
    return this.paginate('/v2/_catalog?n=1000', 'repositories');
  }

  /** Tags of a repository; a repository the peer does not know has none. */
  async tags(repo: string): Promise<string[]> {
    try {
      return await this.paginate(`/v2/${repo}/tags/list?n=1000`, 'tags');
    } catch (err) {
      if (err instanceof PeerError && err.status === 404) return [];
      throw err;
    }
  }

  private async paginate(first: string, field: string): Promise<string[]> {
    const out: string[] = [];
    let path: string | undefined = first;
    for (let pages = 0; path !== undefined && pages < 10_000; pages++) {
      const { res, body }: { res: IncomingMessage; body: Buffer } = await this.exchange({ method: 'GET', path }, [200]);
      const doc = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      const items = doc[field];
      if (Array.isArray(items)) for (const item of items) if (typeof item === 'string') out.push(item);
      path = nextLink(headerValue(res.headers.link));
    }
    return out;
  }
}

/** `<...>; rel="next"` -> the path and query to request next. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!match) return undefined;
  const url = new URL(match[1], 'http://peer.invalid');
  return `${url.pathname}${url.search}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function statusError(what: string, status: number, body: Buffer): PeerError {
  const text = body.toString('utf8').slice(0, 300);
  // 408/429 and 5xx are temporary: the peer exists but cannot take it now.
  const kind = status >= 500 || status === 408 || status === 429 ? 'unavailable' : 'refused';
  return new PeerError(kind, `${what}: HTTP ${status} ${text}`, status);
}

/** Bodies read whole (manifests, tag lists, catalog pages): twice the default manifest limit. */
const MAX_SMALL_BODY = 8 * 1024 * 1024;

function readAll(res: IncomingMessage, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SMALL_BODY) res.destroy(new Error('response too large'));
      else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err) => reject(new PeerError('unavailable', `${what}: ${err.message}`)));
  });
}
