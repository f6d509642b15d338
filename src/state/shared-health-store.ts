// A HealthStore shared between proxies through a StateStore (Redis). Each proxy runs its own
// checks; what is shared is failure: when one proxy sees a backend go down (active checks or
// real traffic), the others mark it down at once instead of each losing requests to it until
// their own checks notice. Recovery stays local: every proxy brings a backend back through its
// own `rise` good checks, so one proxy can never route the others to a backend they cannot reach.
//
// A down report is published (fast path) and kept in a key with a TTL (the truth), reread after
// every reconnection because pub/sub loses messages. Which backend is active in active-standby
// is not decided here but by the election (active-election.ts), which the factory attaches.
import { randomUUID } from 'node:crypto';
import { applyCheck, applyTraffic, initialHealth, type BackendHealth, type HealthParams, type Transition } from '../health/health-state.js';
import { carried } from '../health/carry.js';
import type { ElectionView, HealthReindex, HealthStore, TransitionListener } from '../health/health-store.js';
import type { StateStore } from './state-store.js';

export const HEALTH_CHANNEL = 'health';
export const downKey = (backendUrl: string): string => `health-down:${backendUrl}`;

export interface DownReport {
  origin: string;
  url: string;
  /** When the reporting proxy marked it down (ms since the epoch). */
  at: number;
  detail: string;
}

export function parseDownReport(text: string): DownReport | undefined {
  try {
    const r = JSON.parse(text) as Partial<DownReport>;
    if (typeof r.origin === 'string' && typeof r.url === 'string' && typeof r.at === 'number' && typeof r.detail === 'string') return r as DownReport;
  } catch {
    // a foreign or corrupt message: ignored
  }
  return undefined;
}

/**
 * Whether a peer's down report should take a backend down here: only while we think it is up,
 * and only if the report is newer than our own last change (a report we already recovered from,
 * reread from its key after a reconnection, must not take the backend down a second time).
 */
export function shouldAdopt(local: BackendHealth, report: DownReport, self: string): boolean {
  return report.origin !== self && local.up && report.at > local.since;
}

/** A report matters until the receiving proxy's own checks would have noticed: `fall` intervals. */
export const downReportTtlMs = (params: Pick<HealthParams, 'fall' | 'intervalMs'>): number => Math.max(1000, params.fall * params.intervalMs);

export class SharedHealthStore implements HealthStore {
  readonly origin = randomUUID();
  private states: BackendHealth[];
  private readonly listeners: TransitionListener[] = [];
  private indexByUrl = new Map<string, number>();
  private closed = false;
  /** Set by the factory in active-standby: the shared choice of the active backend. */
  election?: ElectionView;

  constructor(
    private backendUrls: readonly string[],
    private params: HealthParams,
    private readonly store: StateStore,
    private readonly clock: () => number = Date.now,
  ) {
    this.states = backendUrls.map(() => initialHealth(params));
    backendUrls.forEach((url, i) => this.indexByUrl.set(url, i));
    store.subscribe(HEALTH_CHANNEL, (message) => {
      const report = parseDownReport(message);
      if (report) this.adopt(report);
    });
    store.onResync(() => void this.resync());
  }

  snapshot(): readonly BackendHealth[] {
    return this.states;
  }

  reportCheck(index: number, ok: boolean, detail: string): void {
    const step = applyCheck(this.states[index], ok, this.params, this.clock(), detail);
    this.commit(index, step.health, step.transition, true);
  }

  reportTraffic(index: number, ok: boolean, detail: string): void {
    const step = applyTraffic(this.states[index], ok, this.params, this.clock(), detail);
    if (step.health !== this.states[index]) this.commit(index, step.health, step.transition, true);
  }

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  /** Down reports are keyed by URL, so a reload that moves or renames backends keeps them meaningful. */
  reindex(change: HealthReindex): void {
    this.params = change.params;
    this.states = carried(change.carry, this.states, () => initialHealth(change.params));
    this.backendUrls = change.urls;
    this.indexByUrl = new Map(change.urls.map((url, i) => [url, i]));
    this.election?.setNames(change.names);
    // A backend the reload added may already be reported down by another proxy.
    void this.resync();
  }

  close(): void {
    this.closed = true;
    this.listeners.length = 0;
  }

  /** Rereads every backend's down key: the reconciliation after pub/sub may have lost messages. */
  async resync(): Promise<void> {
    await Promise.all(
      this.backendUrls.map(async (url) => {
        const text = await this.store.get(downKey(url));
        const report = text === undefined ? undefined : parseDownReport(text);
        if (report) this.adopt(report);
      }),
    );
  }

  private adopt(report: DownReport): void {
    const index = this.indexByUrl.get(report.url);
    if (this.closed || index === undefined || !shouldAdopt(this.states[index], report, this.origin)) return;
    const now = this.clock();
    const detail = `reported down by another proxy: ${report.detail}`;
    const health: BackendHealth = { up: false, streak: 0, since: now, passiveErrors: 0, lastCheck: this.states[index].lastCheck };
    this.commit(index, health, { to: 'down', reason: 'passive', detail, count: 1 }, false);
  }

  private commit(index: number, health: BackendHealth, transition: Transition | undefined, local: boolean): void {
    this.states[index] = health;
    if (!transition) return;
    if (local && transition.to === 'down') this.share(index, health, transition);
    for (const listener of this.listeners) listener(index, transition, health);
  }

  private share(index: number, health: BackendHealth, transition: Transition): void {
    const report: DownReport = { origin: this.origin, url: this.backendUrls[index], at: health.since, detail: transition.detail };
    const text = JSON.stringify(report);
    // Fire and forget: a Redis outage leaves this proxy's own view intact.
    void this.store.set(downKey(report.url), text, downReportTtlMs(this.params));
    void this.store.publish(HEALTH_CHANNEL, text);
  }
}
