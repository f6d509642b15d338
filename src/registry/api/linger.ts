// Ending a request whose body was refused before it was read in full (413, 401, disk full, a
// chunk that overruns its range). Closing the socket at once while the client is still sending
// makes the kernel answer the unread bytes with a reset, which can wipe the error response out of
// the client's receive buffer before it reads it. So the rest of the body is read and discarded
// for a short while (the connection stays usable if it ends in time), then the socket is closed.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Long enough for a client on a normal link to finish sending a refused chunk and read the answer. */
export const LINGER_MS = 2000;

/** Discards the rest of `req`'s body; destroys the socket if it has not ended after `ms`. */
export function discardThenClose(req: IncomingMessage, socket: Socket, ms = LINGER_MS): void {
  if (req.complete || socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once('end', done);
  socket.once('close', done);
  req.resume();
}
