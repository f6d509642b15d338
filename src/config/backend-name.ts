// A backend's name: the configured one, or host:port of its URL. Names identify a backend in
// logs, metrics, /status and the keys proxies share (their URLs for one replica may differ).
import type { BackendConfig } from './types.js';

export function backendName(config: Pick<BackendConfig, 'name' | 'url'>): string {
  if (config.name !== undefined) return config.name;
  const url = new URL(config.url);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}
