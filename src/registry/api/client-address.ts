// Who a request comes from, for per-client limits (failed sign-ins, open upload sessions).
// Behind the proxy every request arrives from the proxy's address, which would make one client
// of everybody; the proxy appends the client's address to X-Forwarded-For. That header is only
// believed from a loopback peer (the proxy on the same host, as the embedded default runs it):
// anyone else could write whatever address they like into it.

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped form. Pure. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** The client's address: the last X-Forwarded-For hop when the peer is loopback, else the peer. Pure. */
export function clientAddress(remote: string | undefined, forwardedFor: string | string[] | undefined): string {
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  if (header !== undefined && isLoopback(remote)) {
    const last = header.slice(header.lastIndexOf(',') + 1).trim();
    if (last !== '') return last;
  }
  return remote ?? '';
}
