// SIGTERM / SIGINT: drain and exit 0. A second signal while draining exits at once (1), for an
// operator who does not want to wait out drainTimeoutMs.
export function onShutdownSignals(stop: () => Promise<void>, log: (message: string) => void = () => {}): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: exiting without waiting for the drain`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: draining`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`ha-proxy: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * SIGHUP: the operator's reload (the proxy re-reads its config, the registry its certificates).
 * Handled even where there is nothing to re-read: the default action of SIGHUP would kill the process.
 */
export function onReloadSignal(reload: () => void): void {
  process.on('SIGHUP', () => reload());
}
