// Tells when any of a few files changes (a renewed certificate), debounced. fs.watchFile polls
// the files' stat, which also sees a file replaced by a rename or a symlink switched to a new
// target (how certbot and Kubernetes secret mounts renew); fs.watch (inotify) follows the old
// inode and misses those. Polling a handful of files every second is cheap, and the watchers do
// not keep the process alive.
import { unwatchFile, watchFile, type Stats } from 'node:fs';

const POLL_MS = 1000;

/** Calls `onChange` once the files have been quiet for `settleMs` after a change; returns the stop. */
export function watchFiles(paths: readonly string[], settleMs: number, onChange: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const listener = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, settleMs);
    timer.unref();
  };
  const unique = [...new Set(paths)];
  for (const path of unique) watchFile(path, { interval: POLL_MS, persistent: false }, listener);
  return () => {
    clearTimeout(timer);
    for (const path of unique) unwatchFile(path, listener);
  };
}
