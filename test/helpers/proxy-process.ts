// The proxy under test as a real process: `ha-proxy --config <generated JSON>` on free loopback
// ports, awaited until its admin listener answers, with small helpers to read its state.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, waitForListening } from './ports.js';
import { CLI, startHaProxy, startProcess, waitForHttp, type Managed } from './processes.js';

export interface ProxyProcess extends Managed {
  url: string;
  adminUrl: string;
  port: number;
  /** The bearer token operator actions need (admin.tokenFile, written by startProxy). */
  adminToken: string;
  /** POST an operator action (e.g. /failback) with the token. */
  adminPost(path: string): Promise<Response>;
  /** The `--config` file the proxy runs on. */
  configFile: string;
  /** Rewrites the config file (same ports, token and defaults as at start) for a reload. */
  writeConfig(config: Record<string, unknown>): void;
  /** GET /status on the admin listener. */
  status(): Promise<{ active: string | null; election?: { role: string; unreachable: string[] }; backends: { name: string; up: boolean; active: boolean }[] }>;
  /** The value of one metric sample, matched by name and label text (e.g. `server="a"`); 0 if absent. */
  metric(name: string, labels?: string): Promise<number>;
  /** Polls the status until `predicate` holds (generous deadline, no fixed sleeps). */
  waitFor(predicate: (status: Awaited<ReturnType<ProxyProcess['status']>>) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** Short health intervals so tests do not wait; override anything through `config`. */
// timeoutMs stays at 1 s: on a busy machine (the whole suite on 2 cores) a healthy backend can be slow.
export const FAST_HEALTH = { intervalMs: 200, fastIntervalMs: 100, downIntervalMs: 200, timeoutMs: 1000, rise: 2, fall: 2, jitter: 0 };

export interface StartProxyOptions {
  logLevel?: string;
  /** A command the proxy runs under, e.g. ['prlimit', '--nofile=128'] for a low descriptor limit. */
  launcher?: string[];
}

export async function startProxy(config: Record<string, unknown>, options: StartProxyOptions = {}): Promise<ProxyProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ha-proxy-test-'));
  const file = join(dir, 'config.json');
  const adminToken = randomBytes(24).toString('base64url');
  writeFileSync(join(dir, 'admin-token'), `${adminToken}\n`);
  const writeConfig = (next: Record<string, unknown>): void =>
    writeFileSync(
      file,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        adminListen: `127.0.0.1:${adminPort}`,
        logLevel: options.logLevel ?? 'info',
        // One process: these tests are about the proxy core, and read its counters directly.
        workers: 1,
        admin: { tokenFile: join(dir, 'admin-token') },
        ...next,
        healthCheck: { ...FAST_HEALTH, ...(next.healthCheck as object | undefined) },
      }),
    );
  writeConfig(config);
  const proc = options.launcher
    ? startProcess(options.launcher[0], [...options.launcher.slice(1), process.execPath, CLI, '--config', file])
    : startHaProxy(['--config', file]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitForHttp(`${adminUrl}/livez`, { proc, statuses: [200] });
  // With workers the admin listener (in the primary) answers before any worker listens.
  await waitForListening(port);
  const status = async () => (await (await fetch(`${adminUrl}/status`)).json()) as Awaited<ReturnType<ProxyProcess['status']>>;
  return {
    ...proc,
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    port,
    adminToken,
    configFile: file,
    writeConfig,
    adminPost: (path) => fetch(`${adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } }),
    status,
    async metric(name, labels) {
      const text = await (await fetch(`${adminUrl}/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (labels && !line.includes(labels)) continue;
        return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return 0;
    },
    async waitFor(predicate, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        last = await status();
        if (predicate(last as Awaited<ReturnType<ProxyProcess['status']>>)) return;
        await sleep(25);
      }
      throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}\n${proc.output().slice(-4000)}`);
    },
  };
}
