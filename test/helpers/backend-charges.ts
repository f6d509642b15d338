// What a test can read of the blame a proxy put on its backends (through its metrics and
// /status), to show that a client's misbehaviour cost no backend anything.
import assert from 'node:assert/strict';
import type { ProxyProcess } from './proxy-process.js';

/** What counts against each backend: failed attempts by cause, UP->DOWN transitions. */
export async function chargesOf(proxy: ProxyProcess, names: readonly string[]): Promise<Record<string, number>> {
  const charges: Record<string, number> = {};
  for (const server of names) {
    for (const cause of ['CONNECT_FAILED', 'RESET', 'CONNECT_TIMEOUT', 'RESPONSE_TIMEOUT']) {
      charges[`${server} ${cause}`] = await proxy.metric('haproxy_server_failures_total', `server="${server}",cause="${cause}"`);
    }
    charges[`${server} DOWN`] = await proxy.metric('haproxy_server_check_up_down_total', `server="${server}"`);
  }
  return charges;
}

/** Nothing was charged to any backend since `before`, and every backend is UP. */
export async function assertNoBackendCharged(proxy: ProxyProcess, names: readonly string[], before: Record<string, number>): Promise<void> {
  assert.deepEqual(await chargesOf(proxy, names), before);
  assert.deepEqual((await proxy.status()).backends.map((b) => b.up), names.map(() => true));
}
