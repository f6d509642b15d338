// One pino logger per process, writing JSON to stdout through an async destination so a slow
// terminal or pipe never blocks the request path.
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * `minLength: 0`: a line is handed to an asynchronous write at once, so it reaches stdout within
 * an event-loop turn even on a quiet process (with 4096, the listening line and a lone `backend
 * DOWN` waited for 4 KiB more, or for exit). Under load it batches all the same: while one write
 * is in flight, new lines queue and leave together. Measured with 200k access-log-sized lines into
 * a pipe: about 4,000 write(2) calls and the same CPU time with 0 as with 4096, so buffering bought
 * nothing a flush timer would have to make up for.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  // Write out what is still queued behind an in-flight write when the process ends.
  process.once('exit', () => destination.flushSync());
  return logger;
}
