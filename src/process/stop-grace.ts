// How long a process told to stop (SIGTERM) may take before it is killed: its drain
// (drainTimeoutMs), then a margin for its own shutdown after it (closing listeners, flushing
// state to disk). One rule for the proxy's workers and the embedded replicas alike.
const SHUTDOWN_MARGIN_MS = 5000;

export function stopGraceMs(drainTimeoutMs: number): number {
  return drainTimeoutMs + SHUTDOWN_MARGIN_MS;
}
