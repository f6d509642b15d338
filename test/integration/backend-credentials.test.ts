// `user:password@` in a backend or peer URL: the proxy's health checks and a replica's
// replication authenticate with it against a real built-in registry with an htpasswd file, and
// the password shows up nowhere: not in logs, /status, /metrics or error bodies. Forwarded
// requests carry the client's own credentials only.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { freePort } from '../helpers/ports.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { eventually, startReplica, type Replica } from '../helpers/replicas.js';

const USER = 'alice';
// Characters a URL must percent-encode: the proxy has to decode them for Basic auth.
const PASSWORD = 'pa@ss:w/rd-4711';
const IN_URL = `${USER}:${encodeURIComponent(PASSWORD)}@`;
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

const running: (ProxyProcess | RegistryProcess | Replica)[] = [];
after(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

function htpasswdFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'credentials-')), 'htpasswd');
  writeFileSync(file, `${USER}:${bcrypt.hashSync(PASSWORD, 4).replace('$2b$', '$2y$')}\n`);
  return file;
}

function assertNoPassword(text: string, where: string): void {
  for (const form of [PASSWORD, encodeURIComponent(PASSWORD), 'wrd-4711', BASIC.slice('Basic '.length)]) {
    assert.ok(!text.includes(form), `${where} shows the password (${form}):\n${text.slice(0, 3000)}`);
  }
}

describe('backend URL credentials', () => {
  it('health checks authenticate with them, and the password appears in no log, /status or /metrics', async () => {
    const registry = await startRegistryProcess({ registry: { htpasswd: htpasswdFile() } });
    running.push(registry);
    const url = `http://${IN_URL}127.0.0.1:${registry.port}`;
    // 401 is not healthy here: the backend stays UP only if the checks send the credentials.
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ name: 'secured', url }], healthCheck: { expectStatus: [200] } }, { logLevel: 'debug' });
    running.push(proxy);
    await eventually(async () => (await proxy.metric('haproxy_server_checks_total', 'result="success"')) >= 3, () => proxy.output().slice(-2000));
    assert.equal(await proxy.metric('haproxy_server_checks_total', 'result="failure"'), 0, 'no check failed');
    const status = await proxy.status();
    assert.equal(status.backends[0].up, true);

    // Forwarding: the proxy does not lend its credentials to an anonymous client.
    assert.equal((await fetch(`${proxy.url}/v2/`)).status, 401);
    assert.equal((await fetch(`${proxy.url}/v2/`, { headers: { authorization: BASIC } })).status, 200);

    const statusText = await (await fetch(`${proxy.adminUrl}/status`)).text();
    assert.match(statusText, new RegExp(`"url":"http://127\\.0\\.0\\.1:${registry.port}"`));
    assertNoPassword(statusText, '/status');
    assertNoPassword(await (await fetch(`${proxy.adminUrl}/metrics`)).text(), '/metrics');
    assertNoPassword(proxy.output(), 'the proxy log');
  });

  it('a replica replicates to a peer with them and never shows the password', async () => {
    const peerPort = await freePort();
    // The peer is not up yet: the replica logs it as down (by its URL) before it comes.
    const replica = await startReplica({ peers: [`http://${IN_URL}127.0.0.1:${peerPort}`], replication: { ack: 'one', pollIntervalMs: 500 } });
    running.push(replica);
    const pushed = await pushImage(replica.url, 'creds/app', 'v1');
    const peer = await startRegistryProcess({ port: peerPort, registry: { htpasswd: htpasswdFile() } });
    running.push(peer);
    await eventually(
      async () => (await fetch(`${peer.url}/v2/creds/app/manifests/${pushed.digest}`, { method: 'HEAD', headers: { authorization: BASIC } })).status === 200,
      () => `the peer never got the manifest:\n${replica.output().slice(-2000)}`,
    );
    assertNoPassword(await (await fetch(`${replica.adminUrl}/metrics`)).text(), "the replica's /metrics");
    assertNoPassword(replica.output(), "the replica's log");
  });
});
