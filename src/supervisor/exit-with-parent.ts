// A supervised replica must not outlive its supervisor: if the parent dies without stopping it
// (SIGKILL, OOM killer), an orphan would keep its port and storage while a restarted parent
// starts a second replica on the same directory. The supervisor gives each child a stdin pipe;
// the pipe closes when the parent dies, and the child then shuts down like on SIGTERM.

export const SUPERVISED_ENV = 'HA_PROXY_SUPERVISED';

export function exitWithParent(env: NodeJS.ProcessEnv = process.env): void {
  if (env[SUPERVISED_ENV] !== '1') return;
  // A parent that stops us properly sends SIGTERM before its pipe closes: do not signal twice
  // (a second signal means "exit now, skip the drain" to the shutdown handler).
  let signalled = false;
  const seen = () => {
    signalled = true;
  };
  process.once('SIGTERM', seen);
  process.once('SIGINT', seen);
  const stop = () => {
    if (signalled) return;
    signalled = true;
    process.kill(process.pid, 'SIGTERM');
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  // Reading keeps the pipe watched; the parent never writes, so nothing arrives but EOF.
  process.stdin.resume();
}
