// One supervised child process: started, restarted with backoff when it exits unexpectedly, and
// stopped (SIGTERM, then SIGKILL after a grace period) on shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Logger } from '../observability/logger.js';
import { SUPERVISED_ENV } from './exit-with-parent.js';
import { nextRestartDelay, type RestartOptions, type RestartState } from '../process/restart-policy.js';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** Where the current pid is written (operators and tests find the replica process there). */
  pidFile?: string;
}

export class SupervisedChild {
  private child?: ChildProcess;
  private startedAt = 0;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private readonly state: RestartState = { failures: 0 };

  constructor(
    readonly spec: ChildSpec,
    private readonly options: RestartOptions,
    private readonly logger: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.startedAt = Date.now();
    // Children share our stdout/stderr: their pino lines interleave with ours, each carrying its pid.
    // stdin is a pipe the child watches: it closes when we die, and the child stops (exit-with-parent.ts).
    const child = spawn(this.spec.command, this.spec.args, { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, [SUPERVISED_ENV]: '1' } });
    this.child = child;
    if (this.spec.pidFile && child.pid !== undefined) writeFileSync(this.spec.pidFile, `${child.pid}\n`);
    this.logger.info({ child: this.spec.name, pid: child.pid }, 'replica started');
    // A child that could not be spawned at all (pid undefined) gets `error` and no `exit`: both
    // end this run, once, and lead to a restart.
    let ended = false;
    const onEnded = (detail: Record<string, unknown>): void => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      const delay = nextRestartDelay(this.state, Date.now() - this.startedAt, this.options);
      this.logger.warn({ child: this.spec.name, ...detail, restartInMs: delay }, 'replica exited; restarting');
      this.restartTimer = setTimeout(() => this.start(), delay);
    };
    child.once('error', (err) => {
      this.logger.error({ child: this.spec.name, err }, 'replica could not start');
      if (child.pid === undefined) onEnded({ err: err.message });
    });
    child.once('exit', (code, signal) => onEnded({ code, signal }));
  }

  /** Stops the child for good; resolves when it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Last resort on process exit: synchronous, no waiting. */
  killNow(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
  }
}
