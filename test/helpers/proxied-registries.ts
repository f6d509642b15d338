// Two built-in registries (`--mode registry`, no replication) behind one active-active proxy, for
// tests of what clients and local conditions do to the proxy: the backends are named so tests can
// read per-backend counters (helpers/backend-charges.ts).
import { startProxy, type ProxyProcess, type StartProxyOptions } from './proxy-process.js';
import { startRegistryProcess, type RegistryProcess } from './registry-process.js';

export interface ProxiedRegistries {
  proxy: ProxyProcess;
  registries: RegistryProcess[];
  names: readonly string[];
  /** Stops the proxy, then the registries. */
  stop(): Promise<void>;
}

/** `config` is merged over `{ mode: 'active-active', backends }` (limits, timeouts, health checks). */
export async function startProxiedRegistries(names: readonly [string, string], config: Record<string, unknown>, options?: StartProxyOptions): Promise<ProxiedRegistries> {
  const registries = [await startRegistryProcess(), await startRegistryProcess()];
  const proxy = await startProxy({ mode: 'active-active', backends: registries.map((r, i) => ({ name: names[i], url: r.url })), ...config }, options).catch(async (err: unknown) => {
    for (const r of registries) await r.stop();
    throw err;
  });
  return {
    proxy,
    registries,
    names,
    stop: async () => {
      await proxy.stop();
      for (const r of registries) await r.stop();
    },
  };
}
