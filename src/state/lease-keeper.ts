// Holding a lease over time: try to acquire it, renew at a third of the TTL, and step down the
// moment a renewal fails (research.md section 5). The holder acts only while `held()` is true;
// since renewals run well before expiry, a holder that loses Redis stops acting before anyone
// else can acquire the lease.
import type { Lease, StateStore } from './state-store.js';

export interface LeaseKeeperOptions {
  name: string;
  ttlMs: number;
  onAcquired?: () => void;
  onLost?: () => void;
}

export class LeaseKeeper {
  private lease: Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: StateStore,
    private readonly options: LeaseKeeperOptions,
  ) {}

  start(): void {
    void this.tick();
  }

  held(): boolean {
    return this.lease !== undefined;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.lease) {
      if (!(await this.lease.renew())) {
        this.lease = undefined;
        if (!this.stopped) this.options.onLost?.();
      }
    } else {
      const lease = await this.store.acquireLease(this.options.name, this.options.ttlMs);
      if (this.stopped) {
        await lease?.release();
        return;
      }
      if (lease) {
        this.lease = lease;
        this.options.onAcquired?.();
      }
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(1, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing and releases the lease so another holder can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }
}
