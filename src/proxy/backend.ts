// A backend as the proxy uses it at run time: built once at start-up from the config, with its
// keep-alive agent and the pre-parsed target http-proxy needs, so nothing is parsed per request.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { BackendConfig } from '../config/types.js';

/** The target shape http-proxy's setupOutgoing reads (a legacy url.parse result). */
export interface ProxyTarget {
  protocol: string;
  hostname: string;
  host: string;
  port: string;
  path: string;
}

export interface Backend {
  /** Position in the config: the priority in active-standby, the key of per-backend state. */
  readonly index: number;
  readonly name: string;
  readonly url: string;
  /** `scheme://host:port`, to recognise absolute Location headers that point at this backend. */
  readonly origin: string;
  readonly weight: number;
  readonly target: ProxyTarget;
  readonly agent: HttpAgent;
}

/**
 * Free pooled sockets are closed after this long idle. It must stay below the backends' own
 * keep-alive timeout (Node's default and the built-in registry: 5 s), or a backend closes a
 * pooled socket just as we reuse it and the request dies with "socket hang up" (research.md s4).
 */
export interface AgentOptions {
  keepAliveIdleMs: number;
}

export function createBackends(configs: readonly BackendConfig[], options: AgentOptions): Backend[] {
  return configs.map((config, index) => {
    const url = new URL(config.url);
    const https = url.protocol === 'https:';
    const agentOptions = {
      keepAlive: true,
      timeout: options.keepAliveIdleMs,
      // LIFO reuses the most recently used socket, so surplus sockets age out of the pool.
      scheduling: 'lifo' as const,
      // Enough pooled sockets for a busy proxy; beyond it sockets are closed after use.
      maxFreeSockets: 256,
    };
    const port = url.port || (https ? '443' : '80');
    return {
      index,
      name: config.name ?? `${url.hostname}:${port}`,
      url: config.url,
      origin: url.origin,
      weight: config.weight,
      target: {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        host: url.host,
        port,
        // A path prefix in the backend URL is prepended to every request path.
        path: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
      },
      agent: https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions),
    };
  });
}

export function destroyBackends(backends: readonly Backend[]): void {
  for (const backend of backends) backend.agent.destroy();
}
