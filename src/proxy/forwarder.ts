// The only module that imports http-proxy (node-http-proxy 1.18.1). It forwards ONE attempt of
// a request to ONE backend and reports how it went; choosing backends and retrying belong to the
// request handler. Swapping the engine (e.g. http-proxy-3) means changing this file only.
//
// The known defects of http-proxy (research.md section 4) and what this module does instead:
//   1. No keep-alive without an agent (`Connection: close`): every backend has its own
//      keep-alive agent (backend.ts), idle-timed below the backends' keep-alive timeout.
//   2. `proxyTimeout` surfaces as ECONNRESET: not used. Our own timers (connect, response
//      headers, idle) fail the attempt with a named code that maps to 504.
//   3. A client that aborts may not abort the upstream request (#1586): we listen to the
//      client response's `close` and destroy the upstream request ourselves.
//   4. A backend dying mid-body is piped with no error handling (the client may see a short body
//      that looks complete): we stream with `pipe` and watch both ends; any failure destroys
//      the client connection. A 502 is written only when no header has been sent yet.
//   5. No `error` listener means a throw that kills the process: every call passes its own
//      callback, and a server-wide listener is always installed as a safety net.
//   6. `changeOrigin` stays false (registries build URLs from the client's Host); `xfwd` is off
//      because it appends X-Forwarded-For again on every retry (headers.ts sets them once).
//   7. Requests with `Expect: 100-continue` never get the `proxyReq` event: headers.ts drops
//      `Expect` (Node already answered 100 Continue to the client).
// We also take over the response (`selfHandleResponse`) so headers are copied once, without
// hop-by-hop ones, through the router's rewrite hook, and `toProxy` so http-proxy does not run
// the deprecated url.parse on every request.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';
import type { Backend } from './backend.js';
import { responseHeaders } from './headers.js';
import { classifySocketError, type FailureCode, type UpstreamFailure } from './upstream-failure.js';

export interface ForwarderTimeouts {
  /** From the start of the attempt until the TCP connection is up. */
  connectMs: number;
  /** From the last byte of the request until the response headers. */
  responseHeadersMs: number;
  /** No byte moving on the backend connection for this long, at any point. */
  idleMs: number;
}

export interface AttemptHooks {
  /** True: drop this response (drained, not sent) so the caller can try the next backend. */
  discard?: (status: number, headers: IncomingHttpHeaders) => boolean;
  /** Edits the response headers before they are sent (Location rewrite, routing hooks). */
  editHeaders?: (headers: OutgoingHttpHeaders, status: number) => void;
}

/** How the body of a committed response ended. */
export type BodyOutcome = 'complete' | 'client-aborted' | 'upstream-failed';

export type AttemptResult =
  /** Headers went to the client; the body streams until `finished`. */
  | { readonly ok: true; readonly status: number; readonly finished: Promise<BodyOutcome> }
  /** Nothing was sent to the client: it can still be retried or answered with an error. */
  | { readonly ok: false; readonly failure: UpstreamFailure; readonly reusedSocket: boolean; readonly status?: number };

const ATTEMPT = Symbol('ha-proxy.attempt');
type WithAttempt = { [ATTEMPT]?: Attempt };
// Per-call options reach the `proxyReq` event copied by util._extend, which drops symbol keys.
type AttemptOption = { haProxyAttempt?: Attempt };

export class Forwarder {
  private readonly proxy: httpProxy;

  constructor(
    private readonly timeouts: ForwarderTimeouts,
    /** Errors that reach the safety net (a bug if it ever runs); logged by the caller. */
    onUnexpectedError: (err: Error) => void,
  ) {
    this.proxy = httpProxy.createProxyServer({
      changeOrigin: false,
      xfwd: false,
      selfHandleResponse: true,
      toProxy: true,
      prependPath: true,
      ws: false,
    });
    this.proxy.on('error', (err, _req, res) => {
      onUnexpectedError(err);
      if (typeof (res as ServerResponse).destroy === 'function') (res as ServerResponse).destroy();
    });
    this.proxy.on('proxyReq', (proxyReq, _req, _res, options) => {
      const attempt = (options as AttemptOption).haProxyAttempt;
      if (attempt) attempt.onProxyReq(proxyReq);
      else proxyReq.destroy();
    });
    this.proxy.on('proxyRes', (proxyRes) => {
      // Node links a client response to its request as `req` (untyped).
      const attempt = ((proxyRes as IncomingMessage & { req?: ClientRequest & WithAttempt }).req)?.[ATTEMPT];
      if (attempt) attempt.onProxyRes(proxyRes);
      else proxyRes.destroy();
    });
    // http-proxy reports a client reset here instead of through the callback.
    this.proxy.on('econnreset', (_err, req) => (req as IncomingMessage & WithAttempt)[ATTEMPT]?.fail('CLIENT_ABORTED', 'client reset'));
  }

  /** Forwards `req` (its current `url` and headers) to `backend` once. */
  forward(req: IncomingMessage, res: ServerResponse, backend: Backend, hooks: AttemptHooks): Promise<AttemptResult> {
    const attempt = new Attempt(req, res, hooks, this.timeouts);
    (req as IncomingMessage & WithAttempt)[ATTEMPT] = attempt;
    const options = { target: backend.target, agent: backend.agent, haProxyAttempt: attempt } as httpProxy.ServerOptions;
    this.proxy.web(req, res, options, (err) => attempt.onError(err as NodeJS.ErrnoException));
    return attempt.result;
  }
}

class Attempt {
  readonly result: Promise<AttemptResult>;
  private resolve!: (result: AttemptResult) => void;
  private proxyReq: ClientRequest | undefined;
  private connected = false;
  private reusedSocket = false;
  private settled = false;
  private committed = false;
  private clientClosed = false;
  private upstreamFailed = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private responseTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly hooks: AttemptHooks,
    private readonly timeouts: ForwarderTimeouts,
  ) {
    this.result = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.connectTimer = setTimeout(this.onConnectTimeout, timeouts.connectMs);
    res.once('close', this.onClientClose);
  }

  onProxyReq(proxyReq: ClientRequest): void {
    if (this.settled) {
      proxyReq.destroy();
      return;
    }
    this.proxyReq = proxyReq;
    (proxyReq as ClientRequest & WithAttempt)[ATTEMPT] = this;
    this.reusedSocket = proxyReq.reusedSocket;
    const socket = proxyReq.socket;
    if (proxyReq.reusedSocket || !socket || !socket.connecting) this.onConnected();
    else socket.once('connect', this.onConnected);
    proxyReq.setTimeout(this.timeouts.idleMs, this.onIdle);
    if (proxyReq.writableFinished) this.onRequestSent();
    else proxyReq.once('finish', this.onRequestSent);
  }

  onProxyRes(proxyRes: IncomingMessage): void {
    if (this.settled) {
      proxyRes.destroy();
      return;
    }
    this.clearTimers();
    const status = proxyRes.statusCode ?? 502;
    if (this.hooks.discard?.(status, proxyRes.headers)) {
      this.settle({ ok: false, failure: { code: 'FALLTHROUGH', detail: `status ${status}` }, reusedSocket: this.reusedSocket, status });
      // Drained rather than destroyed, so the socket goes back to the pool.
      proxyRes.resume();
      return;
    }
    const headers = responseHeaders(proxyRes.headers);
    this.hooks.editHeaders?.(headers, status);
    const res = this.res;
    try {
      res.writeHead(status, proxyRes.statusMessage, headers);
    } catch (err) {
      // A header Node refuses to send (invalid characters): nothing was sent yet.
      proxyRes.destroy();
      this.fail('RESET', `invalid response header: ${(err as Error).message}`);
      return;
    }
    this.committed = true;
    proxyRes.once('aborted', this.onUpstreamBroken);
    proxyRes.once('error', this.onUpstreamBroken);
    this.settle({ ok: true, status, finished: this.streamBody(proxyRes, res) });
  }

  /**
   * Streams the backend's body to the client with backpressure. `pipe` plus four listeners
   * rather than stream.pipeline: pipeline allocates an AbortController per call and aborts it
   * (building a DOMException) on completion, about 5% of the proxy's CPU per small request in a
   * --cpu-prof of the benchmark.
   */
  private streamBody(proxyRes: IncomingMessage, res: ServerResponse): Promise<BodyOutcome> {
    return new Promise<BodyOutcome>((resolveBody) => {
      let done = false;
      const finish = (outcome: BodyOutcome): void => {
        if (done) return;
        done = true;
        resolveBody(outcome);
      };
      // Either side failed mid-body: tear both down, so the client can never mistake a short
      // body for a complete one and the backend stops sending to nobody.
      const broken = (): void => {
        if (done) return;
        this.proxyReq?.destroy();
        proxyRes.destroy();
        res.destroy();
        finish(this.upstreamFailed ? 'upstream-failed' : 'client-aborted');
      };
      res.once('finish', () => finish('complete'));
      res.once('close', () => {
        if (!res.writableFinished) broken();
      });
      proxyRes.once('error', broken);
      proxyRes.once('close', () => {
        if (proxyRes.complete) return;
        this.onUpstreamBroken();
        broken();
      });
      proxyRes.pipe(res);
    });
  }

  onError(err: NodeJS.ErrnoException): void {
    if (this.committed) {
      if (!this.res.writableFinished) this.res.destroy();
      return;
    }
    if (this.req.socket.destroyed) {
      this.fail('CLIENT_ABORTED', err.code ?? err.message);
      return;
    }
    this.fail(classifySocketError(err.code, this.connected), err.code ?? err.message);
  }

  /** Ends this attempt without a response: the upstream request is destroyed. */
  fail(code: FailureCode, detail: string): void {
    if (this.settled) {
      if (code === 'CLIENT_ABORTED' && this.committed) this.proxyReq?.destroy();
      return;
    }
    this.proxyReq?.destroy();
    this.settle({ ok: false, failure: { code, detail }, reusedSocket: this.reusedSocket });
  }

  private settle(result: AttemptResult): void {
    this.settled = true;
    this.clearTimers();
    if (!result.ok) this.res.off('close', this.onClientClose);
    this.resolve(result);
  }

  private clearTimers(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.responseTimer) clearTimeout(this.responseTimer);
    this.connectTimer = undefined;
    this.responseTimer = undefined;
  }

  private readonly onConnected = (): void => {
    this.connected = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  };

  private readonly onRequestSent = (): void => {
    if (this.settled || this.responseTimer) return;
    this.responseTimer = setTimeout(
      () => this.fail('RESPONSE_TIMEOUT', `no response headers after ${this.timeouts.responseHeadersMs} ms`),
      this.timeouts.responseHeadersMs,
    );
  };

  private readonly onConnectTimeout = (): void => {
    this.fail('CONNECT_TIMEOUT', `not connected after ${this.timeouts.connectMs} ms`);
  };

  private readonly onIdle = (): void => {
    if (this.committed) {
      // The backend stalled mid-body: cut both sides, the client must see the transfer fail.
      this.upstreamFailed = true;
      this.proxyReq?.destroy();
      this.res.destroy();
      return;
    }
    this.fail('IDLE_TIMEOUT', `no data for ${this.timeouts.idleMs} ms`);
  };

  // The backend's response broke off before its end (unless we are the ones tearing it down
  // because the client left).
  private readonly onUpstreamBroken = (): void => {
    if (!this.clientClosed) this.upstreamFailed = true;
  };

  // The client went away (closed its connection) before the response finished.
  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    if (!this.upstreamFailed) this.clientClosed = true;
    if (this.committed) this.proxyReq?.destroy();
    else this.fail('CLIENT_ABORTED', 'client closed the connection');
  };
}
