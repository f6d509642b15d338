// TLS towards an https:// backend or replication peer: the `tls:` block of its config read into
// the options node:tls takes, shared by forwarding (undici), health checks and the peer client.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/config-error.js';
import type { UpstreamTlsConfig } from '../config/types.js';
import { readPemFile } from './listener-tls.js';

export interface UpstreamTls extends Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'> {
  /**
   * The name sent as SNI and checked against the certificate: `tls.servername`, else the URL's
   * host name; undefined for an IP address (RFC 6066 allows no IP in SNI; the certificate is
   * then checked against the IP).
   */
  servername: string | undefined;
}

/** undefined for http:// URLs; throws ConfigError (`where.tls.ca: cannot read ...`) for unreadable files. */
export function loadUpstreamTls(url: string, tls: UpstreamTlsConfig | undefined, where: string): UpstreamTls | undefined {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return undefined;
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) throw new ConfigError([`${where}.tls: give both cert and key, or neither`]);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return {
    servername: tls?.servername ?? (isIP(host) ? undefined : host),
    rejectUnauthorized: tls?.verify !== false,
    ...(tls?.ca === undefined ? {} : { ca: readPemFile(tls.ca, `${where}.tls.ca`) }),
    ...(tls?.cert === undefined ? {} : { cert: readPemFile(tls.cert, `${where}.tls.cert`) }),
    ...(tls?.key === undefined ? {} : { key: readPemFile(tls.key, `${where}.tls.key`) }),
  };
}
