// One pino logger per process, writing JSON to stdout through an async destination so a slow
// terminal or pipe never blocks the request path.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  // Flush what is buffered when the process ends normally.
  process.once('exit', () => destination.flushSync());
  return logger;
}
