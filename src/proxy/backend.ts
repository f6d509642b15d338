// A backend as the proxy uses it at run time: a plain description built from the config (at
// start-up and at each reload), so nothing is parsed per request. Its keep-alive connections
// are not part of it: the forwarder's pools own them (upstream-pools.ts).
import { backendName } from '../config/backend-name.js';
import type { BackendConfig } from '../config/types.js';
import { splitCredentials } from '../net/credentials.js';
import { loadUpstreamTls, type UpstreamTls } from '../net/upstream-tls.js';

export interface Backend {
  /** Position in the config: the priority in active-standby, the key of per-backend state. */
  readonly index: number;
  readonly name: string;
  /**
   * How error bodies sent to clients name it: the configured `name`, else `backend <position>`.
   * Never the address (`name` defaults to host:port, fine for logs and metrics, not for clients).
   */
  readonly label: string;
  /** The configured URL without any `user:password@`: what logs and /status show. */
  readonly url: string;
  /**
   * Basic auth from the URL's `user:password@`, for the proxy's own requests (health checks).
   * Never added to forwarded requests: clients authenticate as themselves.
   */
  readonly authorization?: string;
  /** `scheme://host:port`, to recognise absolute Location headers that point at this backend. */
  readonly origin: string;
  readonly weight: number;
  /** A path prefix in the backend URL, prepended to every request path ('' for none). */
  readonly pathPrefix: string;
  /** https:// backends: the TLS options, shared with the health checks. */
  readonly tls?: UpstreamTls;
  /**
   * Sent with every request to an https:// backend. undici otherwise derives the SNI name from
   * each request's Host header, which is the client's name for the proxy: the backend's
   * certificate would be checked against it, and every change of Host would reconnect.
   */
  readonly dispatchServername?: string;
}

export function describeBackends(configs: readonly BackendConfig[]): Backend[] {
  return configs.map((config, index) => {
    const { url: shown, authorization } = splitCredentials(config.url);
    const url = new URL(shown);
    const tls = loadUpstreamTls(shown, config.tls, `backends[${index}]`);
    return {
      tls,
      dispatchServername: tls === undefined ? undefined : (tls.servername ?? url.hostname),
      index,
      name: backendName(config),
      label: config.name ?? `backend ${index + 1}`,
      url: shown,
      ...(authorization ? { authorization } : {}),
      origin: url.origin,
      weight: config.weight,
      pathPrefix: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
    };
  });
}

export interface ConnectionOptions {
  /** From the start of the attempt until the TCP (or TLS) connection is up. */
  connectMs: number;
  /** From the last byte of the request until the response headers. */
  responseHeadersMs: number;
  /** No byte of the response body for this long. */
  idleMs: number;
  /**
   * Free pooled connections are closed after this long idle. It must stay below the backends'
   * own keep-alive timeout (Node's http server default: 5 s; the built-in registry: 65 s), or a
   * backend closes a pooled connection just as we reuse it and the request dies.
   */
  keepAliveIdleMs: number;
}
