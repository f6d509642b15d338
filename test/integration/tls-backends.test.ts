// TLS towards backends and replication peers: built-in registries serving HTTPS with a private
// CA. A proxy that trusts the CA (tls.ca) sees the backend UP and forwards to it, whatever Host
// the client sent; one that does not is refused by the certificate check and sees it DOWN; a
// backend asking for client certificates gets the proxy's; replication runs over HTTPS.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import type { Managed } from '../helpers/processes.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { pushImage, startRegistryProcess } from '../helpers/registry-process.js';
import { createTestCa, type TestCa } from '../helpers/tls-certs.js';
import { curlStatus } from '../helpers/tls-clients.js';

const cleanup: Managed[] = [];
after(async () => {
  await Promise.all(cleanup.map((p) => p.stop('SIGKILL')));
});

let ca: TestCa;
before(() => {
  ca = createTestCa();
});

async function proxyTo(backend: Record<string, unknown>): Promise<ProxyProcess> {
  const proxy = await startProxy({ mode: 'active-standby', backends: [backend] });
  cleanup.push(proxy);
  return proxy;
}

/** GET through the proxy with a Host header of our choosing (fetch may not set Host). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS to backends and peers', () => {
  it('a backend behind a private CA is UP with tls.ca and DOWN without; replication peers talk HTTPS', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const issued = [ca.issue('replica-a', ['IP:127.0.0.1']), ca.issue('replica-b', ['IP:127.0.0.1'])];
    const peerTls = { ca: ca.cert };
    const [a, b] = await Promise.all(
      [portA, portB].map((port, i) =>
        startRegistryProcess({
          port,
          config: {
            tls: { cert: issued[i].cert, key: issued[i].key },
            replication: { peers: [{ url: `https://127.0.0.1:${i === 0 ? portB : portA}`, tls: peerTls }], ack: 'all' },
          },
        }),
      ),
    );
    cleanup.push(a, b);

    const trusting = await proxyTo({ url: a.url, tls: { ca: ca.cert } });
    await trusting.waitFor((s) => s.backends[0].up, 'the TLS backend UP');
    // The client's Host is not the backend's name: the certificate is still checked against the backend's.
    assert.equal(await getWithHost(`${trusting.url}/v2/`, 'registry.example:443'), 200);
    const pushed = await pushImage(trusting.url, 'tls/app', 'v1');
    assert.equal(pushed.status, 201);
    // ack: all: B had it (over HTTPS from A) before the push was answered.
    const manifest = await curlStatus(['--cacert', ca.cert, '-H', 'accept: application/vnd.oci.image.manifest.v1+json', `${b.url}/v2/tls/app/manifests/v1`]);
    assert.equal(manifest.status, 200);

    const untrusting = await proxyTo({ url: a.url });
    await untrusting.waitFor(
      (s) => {
        const backend = s.backends[0] as { up: boolean; lastCheck?: { ok: boolean; detail: string } };
        return !backend.up && /CERT|SELF_SIGNED|UNABLE_TO/.test(backend.lastCheck?.detail ?? '');
      },
      'the backend DOWN on the certificate check',
    );
    const refused = await fetch(`${untrusting.url}/v2/`);
    await refused.arrayBuffer();
    assert.equal(refused.status, 503);

    // verify: false accepts the certificate anyway (trusted networks, tests).
    const unverified = await proxyTo({ url: a.url, tls: { verify: false } });
    await unverified.waitFor((s) => s.backends[0].up, 'the backend UP with verify: false');
  });

  it('a backend that requires client certificates gets the proxy\'s tls.cert/key', async () => {
    const server = ca.issue('mtls-backend', ['IP:127.0.0.1']);
    const client = ca.issue('proxy-client', ['DNS:proxy.test']);
    const backend = await startRegistryProcess({ config: { tls: { cert: server.cert, key: server.key, clientCa: ca.cert } } });
    cleanup.push(backend);
    await assert.rejects(curlStatus(['--cacert', ca.cert, `${backend.url}/v2/`]), 'the backend refuses clients without a certificate');
    const withCert = await proxyTo({ url: backend.url, tls: { ca: ca.cert, cert: client.cert, key: client.key } });
    await withCert.waitFor((s) => s.backends[0].up, 'the mTLS backend UP');
    const res = await fetch(`${withCert.url}/v2/`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    const without = await proxyTo({ url: backend.url, tls: { ca: ca.cert } });
    await without.waitFor((s) => !s.backends[0].up, 'the mTLS backend DOWN without a client certificate');
  });
});
