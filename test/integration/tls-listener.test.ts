// TLS on the client listener: skopeo over HTTPS trusting a test CA, HTTP/2 by ALPN (curl, and a
// streamed upload with no Content-Length), mutual TLS, certificates chosen by SNI, SIGHUP
// reloading the certificates in every worker without dropping an open connection, and a renewed
// certificate file picked up by itself.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDockerRegistry } from '../helpers/docker-registry.js';
import { buildImageLayout, sha256 } from '../helpers/oci-layout.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { eventually } from '../helpers/replicas.js';
import { skopeoCopyVerified } from '../helpers/skopeo.js';
import { certDirTrusting, createTestCa, type TestCa } from '../helpers/tls-certs.js';
import { curlStatus, h2Request, h2Session, presentedCertificate } from '../helpers/tls-clients.js';
import { requireTool } from '../helpers/tools.js';
import { waitForHttp, type Managed } from '../helpers/processes.js';

const cleanup: Managed[] = [];
after(async () => {
  await Promise.all(cleanup.map((p) => p.stop('SIGKILL')));
});

const LOOPBACK = ['DNS:localhost', 'IP:127.0.0.1'];
let ca: TestCa;
before(() => {
  ca = createTestCa();
});

async function started(proxy: Promise<ProxyProcess>): Promise<ProxyProcess> {
  const p = await proxy;
  cleanup.push(p);
  // With --workers, ready once every worker listens.
  await waitForHttp(`${p.adminUrl}/readyz`, { proc: p, statuses: [200], timeoutMs: 60_000 });
  await p.waitFor((s) => s.backends.every((b) => b.up), 'every backend UP', 60_000);
  return p;
}

describe('TLS listener', () => {
  it('skopeo pushes and pulls over HTTPS with built-in replicas behind; curl --http2 downloads a blob intact over h2', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const server = ca.issue('proxy', LOOPBACK);
    const data = mkdtempSync(join(tmpdir(), 'tls-embedded-'));
    const proxy = await started(startProxy({ mode: 'active-standby', tls: { cert: server.cert, key: server.key }, embedded: { data, replicas: 2 } }, { logLevel: 'warn' }));
    const base = `127.0.0.1:${proxy.port}`;
    const certDir = certDirTrusting(ca);
    const layout = buildImageLayout({ layerSizes: [1024, 400_000], tag: 'v1' });
    await skopeoCopyVerified(`oci:${layout.dir}:v1`, `docker://${base}/tls/app:v1`, certDir);
    const pulled = mkdtempSync(join(tmpdir(), 'tls-pulled-'));
    await skopeoCopyVerified(`docker://${base}/tls/app:v1`, `oci:${pulled}:v1`, certDir);
    const index = JSON.parse(readFileSync(join(pulled, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0].digest, layout.digest);
    // Without the CA, skopeo refuses the proxy's certificate: TLS really is verified.
    await assert.rejects(skopeoCopyVerified(`docker://${base}/tls/app:v1`, `oci:${mkdtempSync(join(tmpdir(), 'tls-x-'))}:v1`, mkdtempSync(join(tmpdir(), 'empty-'))), /certificate/);

    const [layerDigest] = [...layout.blobs].sort((a, b) => b[1].length - a[1].length)[0];
    const file = join(mkdtempSync(join(tmpdir(), 'tls-blob-')), 'blob');
    const got = await curlStatus(['--http2', '--cacert', ca.cert, `https://${base}/v2/tls/app/blobs/${layerDigest}`], file);
    assert.deepEqual(got, { version: '2', status: 200 });
    assert.equal(sha256(readFileSync(file)), layerDigest);
    const h1 = await curlStatus(['--http1.1', '--cacert', ca.cert, `https://${base}/v2/`]);
    assert.deepEqual(h1, { version: '1.1', status: 200 });
  });

  it('HTTP/2: a streamed upload without Content-Length, Location rewritten to https:// with the affinity token', async () => {
    const registry = await startDockerRegistry();
    cleanup.push(registry);
    const server = ca.issue('proxy', LOOPBACK);
    const proxy = await started(startProxy({ mode: 'active-standby', tls: { cert: server.cert, key: server.key }, backends: [{ url: registry.url }] }));
    const origin = `https://127.0.0.1:${proxy.port}`;
    const session = await h2Session(origin, ca.cert);
    try {
      const post = await h2Request(session, { ':method': 'POST', ':path': '/v2/h2/app/blobs/uploads/' });
      assert.equal(post.status, 202);
      const location = String(post.headers.location);
      // Host came from :authority and the scheme from the TLS listener.
      assert.ok(location.startsWith(`${origin}/v2/h2/app/blobs/uploads/`), location);
      assert.match(location, /_ha_upload=/);
      const chunks = [Buffer.alloc(300_000, 1), Buffer.alloc(200_000, 2)];
      const patch = await h2Request(session, { ':method': 'PATCH', ':path': new URL(location).pathname + new URL(location).search, 'content-type': 'application/octet-stream' }, chunks);
      assert.equal(patch.status, 202, patch.body.toString());
      assert.equal(patch.headers.range, '0-499999');
      const blob = Buffer.concat(chunks);
      const next = new URL(String(patch.headers.location));
      next.searchParams.set('digest', sha256(blob));
      const put = await h2Request(session, { ':method': 'PUT', ':path': next.pathname + next.search });
      assert.equal(put.status, 201, put.body.toString());
      const get = await h2Request(session, { ':method': 'GET', ':path': `/v2/h2/app/blobs/${sha256(blob)}` });
      assert.equal(get.status, 200);
      assert.equal(sha256(get.body), sha256(blob));
      // Two downloads at once on the one connection: each request's bytes are its own, not the connection's.
      const both = await Promise.all([0, 1].map(() => h2Request(session, { ':method': 'GET', ':path': `/v2/h2/app/blobs/${sha256(blob)}` })));
      assert.deepEqual(both.map((r) => r.body.length), [blob.length, blob.length]);
      // A client that cancels its stream mid-download: the proxy and the session carry on, the backend is not blamed.
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': `/v2/h2/app/blobs/${sha256(blob)}` });
        // Nothing read: HTTP/2 flow control keeps most of the body at the proxy, so the cancel
        // arrives while the response is still streaming.
        stream.pause();
        stream.once('response', () => stream.close(constants.NGHTTP2_CANCEL));
        stream.once('close', () => resolve());
        stream.once('error', reject);
      });
      assert.equal((await h2Request(session, { ':method': 'HEAD', ':path': `/v2/h2/app/blobs/${sha256(blob)}` })).status, 200);
      assert.equal((await proxy.status()).backends[0].up, true);
      assert.equal(proxy.child.exitCode, null);
      // SIGTERM with this HTTP/2 connection still open: it is closed and the proxy drains cleanly.
      const closed = new Promise<void>((resolve) => session.once('close', resolve));
      assert.equal(await proxy.stop('SIGTERM'), 0, proxy.output().slice(-2000));
      await closed;
      // Access lines are flushed by exit at the latest. Bytes are the request's own (bodies).
      const access = proxy.output().split('\n').filter((l) => l.includes('"msg":"access"')).map((l) => JSON.parse(l) as { method: string; status: number; bytesIn: number; bytesOut: number; body?: string });
      // The three complete downloads (the cancelled one is logged with body: client-aborted).
      assert.deepEqual(access.filter((l) => l.method === 'GET' && l.status === 200 && l.body === undefined).map((l) => l.bytesOut), [blob.length, blob.length, blob.length]);
      assert.deepEqual(access.filter((l) => l.method === 'PATCH').map((l) => l.bytesIn), [blob.length]);
      const cancelled = access.filter((l) => l.method === 'GET' && l.body !== undefined);
      assert.deepEqual(cancelled.map((l) => l.body), ['client-aborted']);
      assert.ok(cancelled[0].bytesOut < blob.length);
    } finally {
      session.close();
    }
  });

  it('mutual TLS: a client without a certificate from clientCa is refused at the handshake', async () => {
    const registry = await startDockerRegistry();
    cleanup.push(registry);
    const server = ca.issue('proxy', LOOPBACK);
    const client = ca.issue('client', ['DNS:client.test']);
    const proxy = await started(startProxy({ mode: 'active-standby', tls: { cert: server.cert, key: server.key, clientCa: ca.cert }, backends: [{ url: registry.url }] }));
    const url = `https://127.0.0.1:${proxy.port}/v2/`;
    await assert.rejects(curlStatus(['--http2', '--cacert', ca.cert, url]));
    const other = createTestCa('another CA').issue('stranger', ['DNS:stranger.test']);
    await assert.rejects(curlStatus(['--http2', '--cacert', ca.cert, '--cert', other.cert, '--key', other.key, url]));
    assert.deepEqual(await curlStatus(['--http2', '--cacert', ca.cert, '--cert', client.cert, '--key', client.key, url]), { version: '2', status: 200 });
  });

  it('SNI picks the certificate; SIGHUP reloads it in every worker while an open HTTP/2 connection keeps working', async () => {
    const registry = await startDockerRegistry();
    cleanup.push(registry);
    const dir = mkdtempSync(join(tmpdir(), 'tls-reload-'));
    const place = (issued: { cert: string; key: string }) => {
      copyFileSync(issued.cert, join(dir, 'server.crt'));
      copyFileSync(issued.key, join(dir, 'server.key'));
    };
    place(ca.issue('first', LOOPBACK));
    const named = ca.issue('named', ['DNS:a.example']);
    const wildcard = ca.issue('wildcard', ['DNS:*.b.example']);
    const proxy = await started(startProxy({
      mode: 'active-standby',
      workers: 2,
      tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), certificates: [named, wildcard] },
      backends: [{ url: registry.url }],
    }));
    const port = proxy.port;
    assert.equal(await presentedCertificate(port, ca.cert), 'first');
    assert.equal(await presentedCertificate(port, ca.cert, 'a.example'), 'named');
    assert.equal(await presentedCertificate(port, ca.cert, 'x.b.example'), 'wildcard');
    assert.equal(await presentedCertificate(port, ca.cert, 'unknown.example'), 'first');

    const session = await h2Session(`https://127.0.0.1:${port}`, ca.cert);
    try {
      assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/v2/' })).status, 200);
      place(ca.issue('second', LOOPBACK));
      proxy.child.kill('SIGHUP');
      // Both workers: several new connections in a row all see the new certificate.
      await eventually(async () => {
        for (let i = 0; i < 6; i++) if ((await presentedCertificate(port, ca.cert)) !== 'second') return false;
        return true;
      }, () => `new connections still get the old certificate\n${proxy.output().slice(-2000)}`);
      assert.equal(await presentedCertificate(port, ca.cert, 'a.example'), 'named');
      // The connection opened before the reload still serves requests.
      assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/v2/' })).status, 200);
      assert.equal(session.destroyed, false);

      // A broken file on reload: logged with its path, the certificates in use stay.
      writeFileSync(join(dir, 'server.key'), 'not a key');
      proxy.child.kill('SIGHUP');
      await eventually(async () => /TLS certificate reload failed/.test(proxy.output()), () => 'no reload failure logged');
      assert.match(proxy.output(), /tls: unusable certificate or key/);
      assert.equal(await presentedCertificate(port, ca.cert), 'second');
      assert.equal(proxy.child.exitCode, null);
    } finally {
      session.close();
    }
  });

  it('a certificate renewed on disk is served without a SIGHUP (the files are watched)', async () => {
    const registry = await startDockerRegistry();
    cleanup.push(registry);
    const dir = mkdtempSync(join(tmpdir(), 'tls-watch-'));
    const place = (issued: { cert: string; key: string }) => {
      copyFileSync(issued.cert, join(dir, 'server.crt'));
      copyFileSync(issued.key, join(dir, 'server.key'));
    };
    place(ca.issue('before-renewal', LOOPBACK));
    const proxy = await started(startProxy({ mode: 'active-standby', tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }, backends: [{ url: registry.url }] }));
    assert.equal(await presentedCertificate(proxy.port, ca.cert), 'before-renewal');
    place(ca.issue('after-renewal', LOOPBACK));
    await eventually(async () => (await presentedCertificate(proxy.port, ca.cert)) === 'after-renewal', () => `still the old certificate\n${proxy.output().slice(-2000)}`, 20_000);
    assert.match(proxy.output(), /TLS certificates reloaded/);
  });

  it('a missing certificate file stops start-up with its path (exit 2)', async () => {
    const { startHaProxy } = await import('../helpers/processes.js');
    const proc = startHaProxy(['--mode', 'active-standby', '--backend', 'http://127.0.0.1:1', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem']);
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(proc.output(), /tls\.cert: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/);
  });
});
