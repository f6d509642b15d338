// Log lines reach stdout while the process runs, not when a 4 KiB buffer fills or the process
// exits: a quiet proxy must not hide its listening line or a `backend DOWN` line for hours.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { eventually } from '../helpers/replicas.js';

const running: (ProxyProcess | RegistryProcess)[] = [];
after(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

/** Waits (generous deadline, no timing threshold) for `pattern` on the process's output while it runs. */
async function seesLine(proc: ProxyProcess | RegistryProcess, pattern: RegExp, what: string): Promise<void> {
  await eventually(async () => pattern.test(proc.output()), () => `${what}; output so far:\n${proc.output()}`, 20_000);
  assert.equal(proc.child.exitCode, null, 'the line came while the process was running');
}

describe('log delivery', () => {
  it('the registry prints its listening line while it runs', async () => {
    const registry = await startRegistryProcess({ logLevel: 'info' });
    running.push(registry);
    await seesLine(registry, /"msg":"registry listening"/, 'the registry listening line');
  });

  it('a quiet proxy (healthy backend, no traffic) prints its listening line while it runs', async () => {
    const backend = await startRegistryProcess({ logLevel: 'warn' });
    running.push(backend);
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ name: 'only', url: backend.url }], routing: { secret: 'a-test-secret-of-enough-length' } });
    running.push(proxy);
    await seesLine(proxy, /"msg":"ha-proxy active-standby listening"/, 'the proxy listening line');
  });

  it('the proxy prints a backend DOWN line while it runs', async () => {
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ name: 'gone', url: 'http://127.0.0.1:9' }] });
    running.push(proxy);
    await seesLine(proxy, /"msg":"backend gone is DOWN"/, 'the backend DOWN line');
  });
});
