// Proxies in front of independent registries for the routing tests: each proxy is our CLI with a
// JSON config (fast health checks, a shared routing secret), on ports fixed up front so a proxy
// can be restarted on the same address.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { startHaProxy, waitForHttp, type Managed } from './processes.js';
import { FAST_HEALTH as SHARED_FAST_HEALTH } from './proxy-process.js';

export const TEST_ROUTING_SECRET = 'routing-integration-test-secret';

/** The shared fast checks with a shorter timeout, so a dead backend is noticed in well under a second. */
export const FAST_HEALTH = { ...SHARED_FAST_HEALTH, timeoutMs: 500 };

export interface ProxySpec {
  mode?: 'active-active' | 'active-standby';
  backends: Array<{ name: string; url: string; weight?: number }>;
  routing?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

export interface RunningProxy extends Managed {
  url: string;
  adminUrl: string;
  configPath: string;
  /** Stops this process and starts a new one with the same config on the same ports. */
  restart: () => Promise<RunningProxy>;
}

export async function startRoutingProxy(spec: ProxySpec, ports?: { port: number; adminPort: number }): Promise<RunningProxy> {
  const port = ports?.port ?? (await freePort());
  const adminPort = ports?.adminPort ?? (await freePort());
  const config = {
    mode: spec.mode ?? 'active-active',
    listen: `127.0.0.1:${port}`,
    adminListen: `127.0.0.1:${adminPort}`,
    logLevel: 'warn',
    backends: spec.backends,
    healthCheck: FAST_HEALTH,
    routing: { secret: TEST_ROUTING_SECRET, ...spec.routing },
    ...spec.extra,
  };
  const configPath = join(mkdtempSync(join(tmpdir(), 'routing-proxy-')), 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const proc = startHaProxy(['--config', configPath]);
  const url = `http://127.0.0.1:${port}`;
  // Generous: on a loaded machine a cold start of node can take seconds.
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200], timeoutMs: 60_000 });
  const running: RunningProxy = {
    ...proc,
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    configPath,
    restart: async () => {
      await proc.stop();
      return startRoutingProxy(spec, { port, adminPort });
    },
  };
  return running;
}

interface StatusBackend {
  name: string;
  up: boolean;
}

/** Polls the proxy's admin /status until the backend is reported up (or down). */
export async function waitForBackend(proxy: RunningProxy, name: string, up: boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${proxy.adminUrl}/status`);
      const status = (await res.json()) as { backends: StatusBackend[] };
      const backend = status.backends.find((b) => b.name === name);
      if (backend?.up === up) return;
      last = JSON.stringify(backend);
    } catch (err) {
      last = String(err);
    }
    await sleep(50);
  }
  throw new Error(`backend ${name} was not ${up ? 'up' : 'down'} in time (${last})`);
}

/** The value of a counter (summed over series matching the labels) from the proxy's /metrics. */
export async function metricValue(proxy: RunningProxy, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
