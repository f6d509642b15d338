// A TCP relay on a free loopback port in front of one address: the way a test gives one process a
// partition the others do not see.
//   block() / unblock(): cut every relayed connection and reset new ones at once (the peer sees a
//     reset, as behind a firewall that rejects), then relay again.
//   freeze() / thaw(): stop moving bytes while every socket stays open and new connections are
//     accepted (a frozen or partitioned server: nothing answers, nothing fails), then move them
//     again. Bytes that arrive meanwhile are held (up to HOLD_BYTES per direction, then the sender
//     meets TCP backpressure, as a stalled write does) and delivered on thaw.
//   freezeAfter(n, toward): relay n more bytes towards the clients (responses) or the target
//     (requests), then freeze: a server that stops mid-answer, or stops reading mid-upload.
//   cut(): close every relayed connection (the peer sees the connection closed), keep listening.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  url: string;
  block(): void;
  unblock(): void;
  freeze(): void;
  freezeAfter(bytes: number, toward?: 'clients' | 'target'): void;
  thaw(): void;
  /** Bytes from clients held while frozen (a request that reached the frozen relay). */
  heldFromClients(): number;
  cut(): void;
  close(): Promise<void>;
}

/** Held per direction while frozen before the source is paused (a few requests' headers). */
const HOLD_BYTES = 64 * 1024;

interface Direction {
  from: Socket;
  to: Socket;
  held: Buffer[];
  heldBytes: number;
  toClient: boolean;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const directions = new Set<Direction>();
  let blocked = false;
  let frozen = false;
  /** Bytes still to relay in one direction before freezing (freezeAfter); undefined: no limit. */
  let budget: number | undefined;
  let budgetToClients = true;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const flush = (d: Direction): void => {
    while (!frozen && d.held.length > 0) {
      const chunk = d.held.shift()!;
      d.heldBytes -= chunk.length;
      if (!d.to.destroyed && !d.to.write(chunk)) d.from.pause();
    }
    if (!frozen && d.heldBytes === 0 && !d.to.writableNeedDrain) d.from.resume();
  };
  const forward = (d: Direction, chunk: Buffer): void => {
    if (!frozen && d.toClient === budgetToClients && budget !== undefined) {
      if (chunk.length >= budget) {
        const now = chunk.subarray(0, budget);
        d.held.push(chunk.subarray(budget));
        d.heldBytes += chunk.length - budget;
        frozen = true;
        budget = undefined;
        if (now.length > 0) d.to.write(now);
        return;
      }
      budget -= chunk.length;
    }
    if (frozen) {
      d.held.push(chunk);
      d.heldBytes += chunk.length;
      if (d.heldBytes >= HOLD_BYTES) d.from.pause();
      return;
    }
    if (!d.to.write(chunk)) d.from.pause();
  };
  const relay = (from: Socket, to: Socket, toClient: boolean): void => {
    const d: Direction = { from, to, held: [], heldBytes: 0, toClient };
    directions.add(d);
    from.on('data', (chunk: Buffer) => forward(d, chunk));
    to.on('drain', () => flush(d));
    from.once('end', () => (frozen ? undefined : to.end()));
    from.once('close', () => {
      directions.delete(d);
      to.destroy();
    });
  };
  const server: Server = createServer((client) => {
    track(client);
    if (blocked) return void client.resetAndDestroy();
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    relay(client, upstream, false);
    relay(upstream, client, true);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    block() {
      blocked = true;
      destroyAll();
    },
    unblock() {
      blocked = false;
    },
    freeze() {
      frozen = true;
    },
    freezeAfter(bytes: number, toward: 'clients' | 'target' = 'clients') {
      budget = bytes;
      budgetToClients = toward === 'clients';
    },
    thaw() {
      frozen = false;
      budget = undefined;
      for (const d of directions) flush(d);
    },
    heldFromClients: () => [...directions].reduce((n, d) => n + (d.toClient ? 0 : d.heldBytes), 0),
    cut: destroyAll,
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
  };
}
