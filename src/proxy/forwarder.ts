// Forwards ONE attempt of a request to ONE backend and reports how it went; choosing backends
// and retrying belong to the request handler. The upstream side is undici's dispatcher (the
// backend's Pool, upstream-pools.ts): in the benchmark's profile Node's http client (ClientRequest,
// agent pooling, header serialisation) and http-proxy's per-request set-up were most of the
// proxy's CPU per request, and a dispatch handler costs about 40% less (README "Dependencies").
//
// What a forwarding proxy must get right, and how (each defect http-proxy is known for has an
// answer here):
//   - Keep-alive to every backend: undici pools connections and closes idle ones after
//     `keepAliveIdleMs`, below the backends' own keep-alive timeout.
//   - Timeouts are named: connect, response headers and body idle each fail with their own code
//     (upstream-failure.ts), never a generic ECONNRESET.
//   - A client that leaves aborts the upstream request (the response's `close`).
//   - A backend that dies mid-body destroys the client connection: the client can never take a
//     short body for a complete one. An error answer is written only before any header was sent.
//   - The request body is read through an iterator that does not destroy the client request
//     when the backend fails, so the client can still be told why.
//   - Host stays the client's; X-Forwarded-* are set once per request (headers.ts), not again on
//     every retry.
//   - A backend marked DOWN ends the attempts on it still waiting for their response: they fail
//     as MARKED_DOWN (upstream-failure.ts). One whose bytes are moving (a response streaming, a
//     request body still being uploaded) goes on unless `healthCheck.onMarkedDown` is
//     `shutdown-sessions`: the mark-down may come from checks timing out on a backend that is
//     slow but alive, and a frozen backend's transfer is cut by the body idle timeout anyway.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Backend } from './backend.js';
import type { InFlightList } from './in-flight-list.js';
import type { MarkDownTarget, OnMarkedDown, Upstream } from './upstream-pools.js';
import { countedChunks, countStreamedBytes } from '../process/stream-gc-pacer.js';
import { ResponseFields } from './response-fields.js';
import { classifyUpstreamError, type FailureCode, type UpstreamFailure } from './upstream-failure.js';

export interface AttemptOptions {
  /** Whether the client's request carries a body (by its framing headers, before they were cleaned). */
  hasBody: boolean;
  /** True: drop this response (drained, not sent) so the caller can try the next backend. */
  discard?: (status: number, headers: ResponseFields) => boolean;
  /** Edits the response headers before they are sent (Location rewrite, routing hooks). */
  editHeaders?: (headers: ResponseFields, status: number) => void;
}

/** How the body of a committed response ended. */
export type BodyOutcome = 'complete' | 'client-aborted' | 'upstream-failed';

/**
 * What the caller hears of one attempt: `failed` or `committed` once, then `finished` once if it
 * committed, and nothing after that.
 */
export interface AttemptListener {
  /**
   * Nothing was sent to the client: it can still be retried or answered with an error. Called
   * from a microtask of its own, so a retry never starts inside undici's callbacks or while a
   * mark-down walks the backend's attempts.
   */
  failed(failure: UpstreamFailure): void;
  /** The headers went to the client; the body streams until `finished`. */
  committed(status: number): void;
  finished(outcome: BodyOutcome): void;
}

/** Forwards `req` (its current `url` and headers) to `backend` once, through `upstream` (its pool). */
export function forward(req: IncomingMessage, res: ServerResponse, backend: Backend, upstream: Upstream, options: AttemptOptions, listener: AttemptListener): void {
  const attempt = new Attempt(req, res, options, upstream.attempts, listener);
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  // One literal of one shape for every request (no spreads: they cost an object copy each).
  const dispatch: Dispatcher.DispatchOptions & { servername?: string } = {
    path: backend.pathPrefix + (req.url ?? '/'),
    method,
    headers: req.headers as Record<string, string | string[]>,
    // undici accepts any async iterable as a body; its types list only Readable.
    body: options.hasBody ? (countedChunks(req.iterator({ destroyOnReturn: false })) as unknown as Readable) : null,
    // undici reads it (core/request.js); its types do not list it.
    servername: backend.dispatchServername,
    // undici closes the connection after every HEAD by default, in case a server sends a body
    // anyway; registries do not, and clients send a HEAD per blob and manifest, so each one
    // cost a new backend connection. It is still closed when the backend answers without
    // keep-alive.
    reset: method === 'HEAD' ? false : undefined,
  };
  upstream.pool.dispatch(dispatch, attempt);
}

class Attempt implements Dispatcher.DispatchHandlers, MarkDownTarget {
  prevInFlight: MarkDownTarget | undefined;
  nextInFlight: MarkDownTarget | undefined;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private connected = false;
  private settled = false;
  private committed = false;
  /** A response dropped for the next candidate: its body is drained so the connection is kept. */
  private discarding = false;
  private upstreamFailed = false;
  private bodyEnded = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly options: AttemptOptions,
    /** The backend's attempts in flight: this one is in it until it ends. */
    private readonly registry: InFlightList<MarkDownTarget>,
    private readonly listener: AttemptListener,
  ) {
    // `on`, not `once`: 'close' fires once per response, and once() wraps every listener.
    res.on('close', this.onResponseClose);
    registry.add(this);
  }

  /** The backend was marked DOWN while this attempt was in flight. */
  markedDown(policy: OnMarkedDown): void {
    if (policy === 'finish-transfers' && this.transferring()) return;
    // Mid-body: abort the upstream request; onError cuts the client's response.
    if (this.committed) this.abortUpstream?.(new Error('the backend was marked DOWN'));
    else this.fail('MARKED_DOWN', 'the backend was marked DOWN while the request was in flight');
  }

  /** Bytes are moving: the response is streaming, or the request body is still being uploaded. */
  private transferring(): boolean {
    // `complete`: the client's body has been read to its end, so the attempt only waits now.
    return this.committed || (this.connected && this.options.hasBody && !this.req.complete);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    this.abortUpstream = abort;
    // The client left while the connection was being made.
    if (this.settled) abort();
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.settled) return false;
    // Informational answers (103 Early Hints) are not passed on; the final one follows.
    if (status < 200) return true;
    const headers = ResponseFields.fromRaw(rawHeaders);
    try {
      if (this.options.discard?.(status, headers)) {
        this.discarding = true;
        this.settleFailed({ code: 'FALLTHROUGH', detail: `status ${status}` });
        return true;
      }
      this.options.editHeaders?.(headers, status);
    } catch (err) {
      // The hooks are the proxy's own code: left to undici, the throw would count as the backend's failure.
      this.fail('PROXY_FAULT', (err as Error).stack ?? String(err));
      return false;
    }
    const res = this.res;
    try {
      res.writeHead(status, statusText, headers.list);
    } catch (err) {
      // A header Node refuses to send (invalid characters): nothing was sent yet.
      this.fail('RESET', `invalid response header: ${(err as Error).message}`);
      return false;
    }
    this.committed = true;
    this.settled = true;
    // No 'finish' listener: 'close' (onResponseClose) follows every finish and tells the two apart.
    res.on('drain', resume);
    this.listener.committed(status);
    return true;
  }

  onData(chunk: Buffer): boolean {
    countStreamedBytes(chunk.length);
    if (this.discarding) return true;
    return this.res.write(chunk);
  }

  onComplete(): void {
    if (!this.discarding) this.res.end();
  }

  onError(err: Error): void {
    if (this.discarding) return;
    if (this.committed) {
      // Mid-body: the client must see its transfer fail, never a clean end.
      if (!this.res.writableFinished) {
        if (!this.res.destroyed) this.upstreamFailed = true;
        this.res.destroy();
        this.endBody(this.upstreamFailed ? 'upstream-failed' : 'client-aborted');
      }
      return;
    }
    if (this.settled) return;
    const code = (err as NodeJS.ErrnoException).code;
    if (this.req.socket.destroyed) this.fail('CLIENT_ABORTED', code ?? err.message);
    else this.fail(classifyUpstreamError(code, this.connected), code === undefined ? err.message : `${code}: ${err.message}`);
  }

  /** Ends this attempt without a response: the upstream request is aborted. */
  private fail(code: FailureCode, detail: string): void {
    if (this.settled) return;
    // Settled first: undici reports the abort to onError at once, which must not classify it again.
    this.settleFailed({ code, detail });
    this.abortUpstream?.();
  }

  private settleFailed(failure: UpstreamFailure): void {
    this.settled = true;
    this.res.off('close', this.onResponseClose);
    this.registry.remove(this);
    queueMicrotask(() => this.listener.failed(failure));
  }

  /** A committed response's body has ended (once). */
  private endBody(outcome: BodyOutcome): void {
    if (!this.committed || this.bodyEnded) return;
    this.bodyEnded = true;
    this.registry.remove(this);
    this.listener.finished(outcome);
  }

  // The response was sent in full, or the client went away (closed its connection) before.
  private readonly onResponseClose = (): void => {
    if (this.res.writableFinished) {
      this.endBody('complete');
      return;
    }
    if (!this.committed) {
      this.fail('CLIENT_ABORTED', 'client closed the connection');
      return;
    }
    this.abortUpstream?.();
    this.endBody(this.upstreamFailed ? 'upstream-failed' : 'client-aborted');
  };
}
