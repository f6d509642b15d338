// Detects file handles left to the garbage collector: Node closes such a handle whenever the
// collector finds it and warns "Closing file descriptor N on garbage collection" (DEP0137).
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

const isGcClose = (w: Error) => /garbage collection/.test(w.message);

/** Warnings about handles the garbage collector closed, seen while `fn` ran and after a full collection. */
export async function gcWarnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error) => {
    if (isGcClose(w)) seen.push(w.message);
  };
  process.on('warning', listener);
  try {
    await fn();
    for (let i = 0; i < 5; i++) {
      gc();
      await tick();
    }
    // Warnings are emitted on the next tick after the collection that found the handle.
    await sleep(50);
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/**
 * Waits for `work` to settle while collecting garbage over and over: 'settled' (with its error,
 * if any), or 'collected' when the collector closed a file handle first, i.e. the work had
 * stalled for good with a file open and nothing left referencing it.
 */
export async function settledOrCollected(work: Promise<unknown>): Promise<{ outcome: 'settled'; error?: unknown } | { outcome: 'collected'; warning: string }> {
  let stop = false;
  let listener: ((w: Error) => void) | undefined;
  const collected = new Promise<{ outcome: 'collected'; warning: string }>((resolve) => {
    listener = (w: Error) => {
      if (isGcClose(w)) resolve({ outcome: 'collected', warning: w.message });
    };
    process.on('warning', listener);
  });
  const settled = work.then(
    () => ({ outcome: 'settled' as const }),
    (error: unknown) => ({ outcome: 'settled' as const, error }),
  );
  const collecting = (async () => {
    while (!stop) {
      gc();
      await sleep(20);
    }
  })();
  try {
    return await Promise.race([settled, collected]);
  } finally {
    stop = true;
    await collecting;
    if (listener) process.off('warning', listener);
  }
}
