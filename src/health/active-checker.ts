// The active health checker: the thin shell with sockets and timers around the pure state
// machine (health-state.ts). One probe at a time per backend, each on a fresh connection (as
// HAProxy does: a check must notice a listener that stopped accepting, which a pooled socket
// would hide), with its own timeout; the result goes to the health store, and the next probe is
// scheduled from the backend's new state.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isLocalResourceError } from '../net/local-resource-errors.js';
import { BUILTIN_REGISTRY_HEADER } from '../oci/replication-state.js';
import type { UpstreamTls } from '../net/upstream-tls.js';
import { nextCheckDelay, type HealthParams } from './health-state.js';
import type { HealthStore } from './health-store.js';

export interface CheckTarget {
  index: number;
  /** Base URL of the backend, e.g. http://127.0.0.1:5001 */
  url: string;
  /** Sent as the Authorization header (a backend that wants credentials answers 401 without). */
  authorization?: string;
  /** https:// backends: the same TLS options as forwarding uses. */
  tls?: UpstreamTls;
}

export interface CheckOptions extends HealthParams {
  path: string;
  method: 'GET' | 'HEAD';
  expectStatus: readonly number[];
  timeoutMs: number;
}

export interface CheckResult {
  ok: boolean;
  detail: string;
  /**
   * The probe could not be made for want of local resources (EMFILE, ENOMEM...): no verdict on
   * the backend. Such a result is not reported to the health store; the next probe comes on the
   * backend's usual schedule.
   */
  skipped?: boolean;
  /** The backend answered as a built-in registry (BUILTIN_REGISTRY_HEADER). */
  builtIn?: boolean;
}

/** One probe: resolves (never rejects) with whether the backend answered an expected status in time. */
export function probe(url: URL, options: Pick<CheckOptions, 'method' | 'expectStatus' | 'timeoutMs'>, authorization?: string, tls?: UpstreamTls): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const finish = (ok: boolean, detail: string, builtIn = false) => settle({ ok, detail, ...(builtIn ? { builtIn } : {}) });
    const skip = (detail: string) => settle({ ok: false, detail, skipped: true });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      ...tls,
      method: options.method,
      agent: false,
      headers: { 'user-agent': 'ha-proxy-health-check', connection: 'close', ...(authorization ? { authorization } : {}) },
    });
    const timer = setTimeout(() => finish(false, `timeout after ${options.timeoutMs} ms`), options.timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      finish(options.expectStatus.includes(status), `status ${status}`, res.headers[BUILTIN_REGISTRY_HEADER] !== undefined);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (isLocalResourceError(err.code)) skip(`${err.code}: cannot probe, this process is short of resources`);
      else finish(false, err.code ?? err.message);
    });
    req.end();
  });
}

export class ActiveChecker {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly targets: readonly CheckTarget[],
    private readonly store: HealthStore,
    private readonly options: CheckOptions,
    /** Told about every result (for metrics); state changes go through the store's listeners. */
    private readonly onResult: (index: number, result: CheckResult) => void = () => {},
  ) {}

  /** Probes every backend at once, then keeps each on its own schedule. */
  start(): void {
    for (const target of this.targets) this.schedule(target, 0);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(target: CheckTarget, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => void this.run(target), delayMs);
    timer.unref();
    this.timers.set(target.index, timer);
  }

  private async run(target: CheckTarget): Promise<void> {
    // Appended, not resolved: a backend URL with a path prefix keeps it.
    const url = new URL(target.url.replace(/\/$/, '') + this.options.path);
    const result = await probe(url, this.options, target.authorization, target.tls);
    if (this.stopped) return;
    this.onResult(target.index, result);
    if (!result.skipped) this.store.reportCheck(target.index, result.ok, result.detail);
    this.schedule(target, nextCheckDelay(this.store.snapshot()[target.index], this.options));
  }
}
