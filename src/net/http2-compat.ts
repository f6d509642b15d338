// node:http2's compat objects (Http2ServerRequest/Response) as the proxy expects an HTTP/1.1
// request and response to behave, set up once per request before the handler sees it, so the
// request handler, the routers and the forwarder need no HTTP/2 branches:
//   - pseudo-headers (:method, :path, :authority, :scheme) cannot go to an HTTP/1.1 backend:
//     they leave the headers, `Host` comes from :authority (registries build URLs from Host, the
//     Location rewrite too), and method and url are pinned first (the compat getters read them
//     from the pseudo-headers);
//   - a body without Content-Length is framed by DATA frames: marked `Transfer-Encoding: chunked`,
//     the HTTP/1.1 equivalent, so the body checks see it (the header itself is hop-by-hop and is
//     not forwarded);
//   - HTTP/2 has no reason phrase and forbids connection-specific headers (Node throws on
//     `Connection`, `Keep-Alive`, `Transfer-Encoding`, `HTTP2-Settings`...; the list in
//     hop-by-hop.ts): writeHead drops them, setHeader ignores them. `Connection: close` has no HTTP/2 meaning: a draining proxy sends GOAWAY instead;
//   - the response has no `destroyed`: it is its stream's; and it emits 'finish' (and reports
//     writableFinished) whenever its stream closes, also when the client cancelled it mid-body:
//     that 'finish' is dropped and writableFinished needs end() too, so both still mean the
//     whole response went out (else the upstream request would not be aborted);
//   - the socket is the whole connection's, shared by every stream: the bytes of this request
//     (its bodies; headers are compressed per connection) are counted on its own stream.
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';

/** Bytes of one request, in (its body) and out (the response body). */
export interface ByteCounts {
  read: number;
  written: number;
}

const streamBytes = new WeakMap<object, ByteCounts>();

/**
 * The bytes a request has moved since this call: its socket's counters over HTTP/1.1 (one
 * request at a time on a connection), its stream's own over HTTP/2.
 */
export function byteCounter(req: IncomingMessage): () => ByteCounts {
  const own = streamBytes.get(req);
  if (own) return () => own;
  const socket = req.socket;
  const read = socket.bytesRead;
  const written = socket.bytesWritten;
  return () => ({ read: socket.bytesRead - read, written: socket.bytesWritten - written });
}


/** The request's headers as an HTTP/1.1 request would carry them (in place); pure for unit tests. */
export function http1Headers(headers: Record<string, string | string[] | undefined>, endedWithHeaders: boolean): void {
  const authority = headers[':authority'];
  for (const name of Object.keys(headers)) if (name.startsWith(':')) delete headers[name];
  if (headers.host === undefined && typeof authority === 'string') headers.host = authority;
  if (!endedWithHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
}

/**
 * Headers an HTTP/2 response may carry: without the connection-specific ones. From an object or
 * from the flat [name, value, ...] list writeHead() also takes (a repeated name: its values in order).
 */
export function http2ResponseHeaders(headers: OutgoingHttpHeaders | readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP_HEADERS.has(name.toLowerCase())) out[name] = value;
    return out;
  }
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(name)) continue;
    const prior = out[name];
    const value = headers[i + 1];
    out[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [String(prior)]), value];
  }
  return out;
}

export function adaptHttp2Exchange(req: Http2ServerRequest, res: Http2ServerResponse): void {
  const counts: ByteCounts = { read: 0, written: 0 };
  streamBytes.set(req, counts);
  adaptRequest(req, counts);
  adaptResponse(res, counts);
}

function adaptRequest(req: Http2ServerRequest, counts: ByteCounts): void {
  const { method, url } = req;
  Object.defineProperty(req, 'method', { value: method, writable: true, configurable: true });
  Object.defineProperty(req, 'url', { value: url, writable: true, configurable: true });
  http1Headers(req.headers as Record<string, string | string[] | undefined>, req.stream.endAfterHeaders);
  // Counted where the compat request takes its stream's data in: a 'data' listener of our own
  // on the stream would set it flowing before the request reads, and the body would be lost.
  const push = req.push.bind(req);
  Object.defineProperty(req, 'push', {
    value: (chunk: Buffer | null, encoding?: BufferEncoding) => {
      if (chunk) counts.read += chunk.length;
      return push(chunk, encoding);
    },
    configurable: true,
  });
}

function adaptResponse(res: Http2ServerResponse, counts: ByteCounts): void {
  const emit = res.emit.bind(res) as (event: string | symbol, ...args: unknown[]) => boolean;
  const write = res.write.bind(res) as (chunk: Buffer, ...rest: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Http2ServerResponse;
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: OutgoingHttpHeaders) => Http2ServerResponse;
  type Fields = OutgoingHttpHeaders | readonly string[];
  const setHeader = res.setHeader.bind(res);
  const count = (chunk: unknown): void => {
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) counts.written += Buffer.byteLength(chunk);
  };
  Object.defineProperties(res, {
    emit: {
      value: (event: string | symbol, ...args: unknown[]) => (event === 'finish' && !res.writableEnded ? false : emit(event, ...args)),
      configurable: true,
    },
    write: {
      value: (chunk: Buffer, ...rest: unknown[]) => {
        count(chunk);
        return write(chunk, ...rest);
      },
      configurable: true,
    },
    end: {
      value: (...args: unknown[]) => {
        if (typeof args[0] !== 'function') count(args[0]);
        return end(...args);
      },
      configurable: true,
    },
    destroyed: { get: () => res.stream.destroyed, configurable: true },
    // The stream reports its writable side finished once a client's cancel destroyed it.
    writableFinished: { get: () => res.writableEnded && res.stream.writableFinished, configurable: true },
    writeHead: {
      value: (status: number, reason?: string | Fields, headers?: Fields) =>
        writeHead(status, http2ResponseHeaders((typeof reason === 'object' ? reason : headers) ?? {})),
      configurable: true,
    },
    setHeader: {
      value: (name: string, value: number | string | readonly string[]) => (HOP_BY_HOP_HEADERS.has(name.toLowerCase()) ? res : setHeader(name, value)),
      configurable: true,
    },
  });
}
