// Limits every client-facing HTTP listener needs so that no client, slow or hostile, can hold
// the process's sockets or file descriptors: a deadline for the request headers (HAProxy's
// `timeout http-request`), a cap on concurrent connections, and a cap on header lines that is
// refused rather than silently cut.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';

/**
 * Header lines a request may carry. Node keeps `maxHeadersCount` lines (2000 by default) and
 * drops the rest without a word, Content-Length included, so a body would be read as the next
 * request. The server keeps one line more than this, which tells a request that reached the cap
 * from one that fits. 1000 stays below the built-in registry's Node default, so whatever the
 * proxy forwards (plus its X-Forwarded-* lines) arrives whole; registry clients send about 20.
 */
export const MAX_REQUEST_HEADERS = 1000;

/**
 * File descriptors kept out of the automatic connection cap: log, config and blob files, health
 * checks, the admin listener, replication. Each client connection can cost two descriptors (the
 * client's socket and the backend connection or blob file serving it).
 */
const RESERVED_FDS = 64;
const FDS_PER_CONNECTION = 2;
/** The automatic cap never goes below this, even under a tiny descriptor limit. */
const MIN_AUTO_CONNECTIONS = 16;

export interface ServerLimits {
  /** The complete request headers must arrive within this long of the first byte (or of connecting). */
  headersMs: number;
  /** Concurrent client connections; 0 = derived from the process's open-files limit. */
  maxConnections: number;
  /** Told about every connection closed at once because the cap was reached. */
  onDrop?: () => void;
}

/**
 * The connection cap for a descriptor limit: the configured value, or for 0 as many connections
 * as the limit leaves room for (undefined: no cap, when the limit is unknown or unlimited).
 */
export function connectionCap(configured: number, openFilesLimit: number | undefined): number | undefined {
  if (configured > 0) return configured;
  if (openFilesLimit === undefined || !Number.isFinite(openFilesLimit)) return undefined;
  return Math.max(MIN_AUTO_CONNECTIONS, Math.floor((openFilesLimit - RESERVED_FDS) / FDS_PER_CONNECTION));
}

/** The soft open-files limit (RLIMIT_NOFILE) of this process, where the platform tells it. */
export function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Infinity;
    return soft === undefined || !/^[0-9]+$/.test(soft) ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * Applies the limits to a server before it listens; returns the connection cap in force.
 * `requestTimeout: 0` (needed so multi-GB uploads are not cut) also turns Node's
 * `headersTimeout` off; this sets it again.
 */
export function applyServerLimits(server: Server, limits: ServerLimits): { maxConnections: number | undefined } {
  server.headersTimeout = limits.headersMs;
  // Node checks the header deadline on this period (30 s by default), so a deadline of 30 s
  // would cut a trickling client anywhere between 30 and 60 s: check often enough to be near it.
  // It is a createServer option that Node reads from the instance when the server starts
  // listening (Node >= 18), so setting it here, before listen(), takes effect.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(limits.headersMs / 4)));
  server.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
  const cap = connectionCap(limits.maxConnections, openFilesLimit());
  if (cap !== undefined) server.maxConnections = cap;
  if (limits.onDrop) server.on('drop', limits.onDrop);
  return { maxConnections: cap };
}

/** Whether Node may have dropped some of this request's header lines (refuse it with 431). */
export function tooManyHeaders(req: IncomingMessage): boolean {
  return req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS;
}
