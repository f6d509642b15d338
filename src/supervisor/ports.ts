// Loopback ports for the embedded replicas.
import { createServer } from 'node:net';

/** Resolves the port when it can be bound on 127.0.0.1 (0: any free port), undefined when taken. */
export function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr ? addr.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

export async function freeLoopbackPort(): Promise<number> {
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free loopback port');
  return port;
}
