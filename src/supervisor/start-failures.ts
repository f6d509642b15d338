// When to stop restarting a replica that cannot start: a listener that cannot bind (its port
// taken by another process, say) fails the same way on every restart, so restarting it forever
// only fills the log while the proxy runs with one replica fewer. After GIVE_UP_AFTER starts in a
// row that each ended quickly with the same listen error, the supervisor gives up and exits 1
// (see run-embedded.ts). Pure: the state is the caller's.
import { STABLE_MS } from '../process/restart-policy.js';

/** As systemd's default StartLimitBurst: 5 failed starts and the unit is left failed. */
export const GIVE_UP_AFTER = 5;

export interface StartFailures {
  /** The listen error of the last run, if it ended with one. */
  message?: string;
  /** How many runs in a row ended quickly with that same error. */
  count: number;
}

/** The error line a process prints when a listener cannot bind (the CLI's `ha-proxy: <message>`). */
const LISTEN_ERROR = /^ha-proxy: (cannot listen on .*)$/m;

/** The listen error in a child's stderr, if it printed one. */
export function listenErrorIn(stderr: string): string | undefined {
  return LISTEN_ERROR.exec(stderr)?.[1];
}

/** Records one ended run; returns the message to give up with, or undefined to restart it. */
export function recordEndedRun(state: StartFailures, run: { uptimeMs: number; listenError?: string }, limit = GIVE_UP_AFTER): string | undefined {
  const quick = run.uptimeMs < STABLE_MS && run.listenError !== undefined;
  state.count = quick && run.listenError === state.message ? state.count + 1 : quick ? 1 : 0;
  state.message = quick ? run.listenError : undefined;
  return state.count >= limit ? state.message : undefined;
}
