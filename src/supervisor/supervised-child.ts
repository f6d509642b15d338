// One supervised child process: started, restarted with backoff when it exits unexpectedly (until
// it fails to start the same way GIVE_UP_AFTER times in a row, see start-failures.ts), and stopped
// (SIGTERM, then SIGKILL after a grace period) on shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { timerDelay } from '../net/timer-limit.js';
import type { Logger } from '../observability/logger.js';
import { SUPERVISED_ENV } from './exit-with-parent.js';
import { nextRestartDelay, type RestartOptions, type RestartState } from '../process/restart-policy.js';
import { listenErrorIn, recordEndedRun, type StartFailures } from './start-failures.js';

/** Enough of a child's last stderr to hold its final error line. */
const STDERR_TAIL_BYTES = 4096;

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** Where the current pid is written (operators and tests find the replica process there). */
  pidFile?: string;
  /** Added to the environment the child inherits. */
  env?: Record<string, string>;
  /** Written first on the child's stdin at every start (the replica's validated config). */
  stdinLine?: string;
  /**
   * How long stop() waits after SIGTERM before SIGKILL: the child's own drain and shutdown
   * (stopGraceMs in src/process/stop-grace.ts), so a replica finishing long uploads is not killed in the middle.
   */
  stopGraceMs?: number;
}

/** For a child whose spec gives no stopGraceMs. */
const DEFAULT_STOP_GRACE_MS = 10_000;

export interface SupervisionOptions extends RestartOptions {
  /** Called instead of a restart when the child keeps failing to start with the same listen error. */
  onGiveUp?: (message: string) => void;
}

export class SupervisedChild {
  private child?: ChildProcess;
  private startedAt = 0;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private readonly state: RestartState = { failures: 0 };
  private readonly startFailures: StartFailures = { count: 0 };

  constructor(
    readonly spec: ChildSpec,
    private readonly options: SupervisionOptions,
    private readonly logger: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.startedAt = Date.now();
    // Children share our stdout: their pino lines interleave with ours, each carrying its pid.
    // stdin is a pipe the child watches: it closes when we die, and the child stops (exit-with-parent.ts).
    // stderr passes through a pipe to ours, so the supervisor sees why a start failed (listenErrorIn).
    const child = spawn(this.spec.command, this.spec.args, { stdio: ['pipe', 'inherit', 'pipe'], env: { ...process.env, ...this.spec.env, [SUPERVISED_ENV]: '1' } });
    this.child = child;
    // A child that dies at once closes the pipe under this write: EPIPE is its exit's business.
    child.stdin?.on('error', () => {});
    if (this.spec.stdinLine !== undefined) child.stdin?.write(this.spec.stdinLine);
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
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
      const uptimeMs = Date.now() - this.startedAt;
      const giveUp = recordEndedRun(this.startFailures, { uptimeMs, listenError: listenErrorIn(stderrTail) });
      if (giveUp !== undefined && this.options.onGiveUp) {
        this.logger.error({ child: this.spec.name, ...detail, err: giveUp, attempts: this.startFailures.count }, 'replica keeps failing to start the same way; not restarting it');
        this.options.onGiveUp(giveUp);
        return;
      }
      const delay = nextRestartDelay(this.state, uptimeMs, this.options);
      this.logger.warn({ child: this.spec.name, ...detail, restartInMs: delay }, 'replica exited; restarting');
      this.restartTimer = setTimeout(() => this.start(), delay);
    };
    child.once('error', (err) => {
      this.logger.error({ child: this.spec.name, err }, 'replica could not start');
      if (child.pid === undefined) onEnded({ err: err.message });
    });
    // 'close', not 'exit': by then stderr is read to its end, with the child's last error line.
    child.once('close', (code, signal) => onEnded({ code, signal }));
  }

  /** Stops the child for good; resolves when it has exited (SIGKILL once `graceMs` passed). */
  async stop(graceMs = this.spec.stopGraceMs ?? DEFAULT_STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timerDelay(graceMs));
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
