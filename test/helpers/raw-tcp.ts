// A raw TCP client for framing cases fetch and node:http refuse to produce (request targets that
// are not paths, header floods, trickled headers, bodies cut short): the bytes go out exactly as
// written, and what the server answers is read back as text.
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** Everything the server sent before it closed (or before the deadline). */
  text: string;
  /** The status code of the first response, 0 if none arrived. */
  status: number;
  /** Whether the server closed the connection before the deadline. */
  closed: boolean;
}

function statusOf(text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Opens a connection and resolves once it is up. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads from `socket` until the server closes it or `deadlineMs` pass. */
export function readUntilClosed(socket: Socket, deadlineMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, status: statusOf(text), closed });
    };
    const timer = setTimeout(() => done(false), deadlineMs);
    socket.once('close', () => done(true));
  });
}

/**
 * Sends `bytes` (then half-closes when `end` is set) and reads the reply until the server closes
 * the connection or `deadlineMs` pass.
 */
export async function rawExchange(port: number, bytes: string | Buffer, options: { deadlineMs?: number; end?: boolean } = {}): Promise<RawReply> {
  const socket = await openSocket(port);
  const reply = readUntilClosed(socket, options.deadlineMs ?? 10_000);
  socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  if (options.end) socket.end();
  return reply;
}

/**
 * Slowloris: sends a request line, then one header byte every `intervalMs` and never finishes
 * the headers. Resolves when the server cuts the connection, or after `deadlineMs` with
 * `closed: false`.
 */
export async function trickleHeaders(port: number, intervalMs: number, deadlineMs: number): Promise<RawReply & { elapsedMs: number }> {
  const socket = await openSocket(port);
  const started = Date.now();
  socket.write('GET /v2/ HTTP/1.1\r\nHost: slow\r\nX-Slow: ');
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write('a');
  }, intervalMs);
  const reply = await readUntilClosed(socket, deadlineMs);
  clearInterval(timer);
  return { ...reply, elapsedMs: Date.now() - started };
}

/** One request with `count` filler header lines before the given ones (a header flood). */
export function headerFlood(requestLine: string, count: number, last: string[], body = ''): string {
  const filler = Array.from({ length: count }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
  return `${requestLine}\r\nHost: flood\r\n${filler}${last.map((l) => `${l}\r\n`).join('')}\r\n${body}`;
}
