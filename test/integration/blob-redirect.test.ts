// routing.blobRedirect end to end: a blob GET through the proxy is answered 307 to the chosen
// replica's publicUrl with a signed query, the built-in registry serves that URL only while the
// signature holds, and blob bytes never pass through the proxy (skopeo pulls an image so).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { BLOB_SIGNATURE_PARAM, signBlobUrl } from '../../src/oci/blob-url-signature.js';
import { deriveKeyring } from '../../src/oci/signing.js';
import { buildImageLayout, sha256 } from '../helpers/oci-layout.js';
import { freePort } from '../helpers/ports.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { call, pushBlob, pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { eventually } from '../helpers/replicas.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const SECRET = 'the routing secret both sides share';
const keys = deriveKeyring([Buffer.from(SECRET)], 'blob-redirect');
const ROUTING = { secret: SECRET, blobRedirect: { enabled: true } };
const host = (url: string) => url.replace(/^http:\/\//, '');
const signedPath = (repo: string, digest: string, expiresAtMs = Date.now() + 60_000, k = keys) =>
  `/v2/${repo}/blobs/${digest}?${BLOB_SIGNATURE_PARAM}=${signBlobUrl(k, repo, digest, expiresAtMs)}`;

/** Two replicas replicating to each other (ack all), both accepting signed blob URLs. */
async function startReplicaPair(): Promise<RegistryProcess[]> {
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  return Promise.all(ports.map((port, i) => startRegistryProcess({
    port,
    config: { routing: ROUTING, replication: { ackTimeoutMs: 3000, peers: [{ url: urls[1 - i] }] } },
  })));
}

function setState(proxy: ProxyProcess, name: string, state: string): Promise<Response> {
  return fetch(`${proxy.adminUrl}/backends/${name}/state`, {
    method: 'POST',
    headers: { authorization: `Bearer ${proxy.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ state }),
  });
}

async function blobSentBytes(registry: RegistryProcess): Promise<number> {
  const text = await (await fetch(`${registry.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('haproxy_registry_sent_bytes_total{route="blob"}'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('blob redirects through the proxy', () => {
  let replicas: RegistryProcess[];
  let proxy: ProxyProcess;
  const blob = Buffer.from('a blob that is fetched from the replica directly');
  let digest: string;

  before(async () => {
    replicas = await startReplicaPair();
    proxy = await startProxy({
      mode: 'active-standby',
      backends: replicas.map((r, i) => ({ name: `r${i + 1}`, url: r.url, publicUrl: r.url })),
      routing: ROUTING,
    });
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both replicas up');
    digest = await pushBlob(proxy.url, 'team/app', blob);
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it('answers a blob GET with 307 to the active replica, signed, and the client gets the blob there', async () => {
    const before = await proxy.metric('haproxy_blob_redirects_total', 'server="r1"');
    const res = await call(proxy.url, 'GET', `/v2/team/app/blobs/${digest}?ns=docker.io`);
    assert.equal(res.status, 307);
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith(`${replicas[0].url}/v2/team/app/blobs/${digest}?${BLOB_SIGNATURE_PARAM}=b1.`), location);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const fetched = await fetch(`${proxy.url}/v2/team/app/blobs/${digest}`);
    assert.equal(fetched.status, 200);
    assert.ok(fetched.redirected && fetched.url.startsWith(`${replicas[0].url}/v2/team/app/blobs/${digest}?${BLOB_SIGNATURE_PARAM}=`), fetched.url);
    assert.equal(sha256(Buffer.from(await fetched.arrayBuffer())), digest);
    assert.equal(await proxy.metric('haproxy_blob_redirects_total', 'server="r1"'), before + 2);
  });

  it('forwards HEAD of a blob, manifests and blobs of repositories without a publicUrl backend as before', async () => {
    const head = await call(proxy.url, 'HEAD', `/v2/team/app/blobs/${digest}`);
    assert.equal(head.status, 200);
    const image = await pushImage(proxy.url, 'team/app', 'v1');
    const manifest = await call(proxy.url, 'GET', '/v2/team/app/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
  });

  it('the replica refuses a tampered, moved, expired or foreign signature with 403 DENIED, and serves a valid one', async () => {
    const other = await pushBlob(replicas[0].url, 'team/app', 'another blob');
    const good = signedPath('team/app', digest);
    const query = good.slice(good.indexOf('?'));
    const [, expiry, mac] = query.split('=')[1].split('.');
    const refused: [string, string][] = [
      ['another digest', `/v2/team/app/blobs/${other}${query}`],
      ['another repository', `/v2/team/other/blobs/${digest}${query}`],
      ['a later expiry', `/v2/team/app/blobs/${digest}?${BLOB_SIGNATURE_PARAM}=b1.${Number(expiry) + 3600}.${mac}`],
      ['an altered MAC', `/v2/team/app/blobs/${digest}?${BLOB_SIGNATURE_PARAM}=b1.${expiry}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`],
      ['expired', signedPath('team/app', digest, Date.now() - 2000)],
      ['another secret', signedPath('team/app', digest, Date.now() + 60_000, deriveKeyring([Buffer.from('not the routing secret at all')], 'blob-redirect'))],
      ['two signatures', `${good}&${BLOB_SIGNATURE_PARAM}=x`],
    ];
    for (const [what, path] of refused) {
      const res = await call(replicas[0].url, 'GET', path);
      assert.equal(res.status, 403, `${what}: ${res.status} ${res.body.toString()}`);
      assert.equal(res.code(), 'DENIED', what);
    }
    const ok = await call(replicas[0].url, 'GET', good);
    assert.equal(ok.status, 200);
    assert.equal(sha256(ok.body), digest);
  });

  it('sends no redirect to a drained backend: the next one gets it', async () => {
    assert.equal((await setState(proxy, 'r1', 'drain')).status, 200);
    try {
      const res = await call(proxy.url, 'GET', `/v2/team/app/blobs/${digest}`);
      assert.equal(res.status, 307);
      assert.ok(res.headers.get('location')!.startsWith(`${replicas[1].url}/`), res.headers.get('location')!);
    } finally {
      assert.equal((await setState(proxy, 'r1', 'ready')).status, 200);
    }
  });

  it('a replica that died after the redirect: the client retries through the proxy and lands on a healthy one', async () => {
    const first = await call(proxy.url, 'GET', `/v2/team/app/blobs/${digest}`);
    const location = first.headers.get('location')!;
    assert.ok(location.startsWith(`${replicas[0].url}/`), location);
    await replicas[0].stop('SIGKILL');
    await assert.rejects(fetch(location), 'the redirect target is gone');
    await proxy.waitFor((s) => s.backends.find((b) => b.name === 'r1')?.up === false, 'r1 down');
    const retry = await call(proxy.url, 'GET', `/v2/team/app/blobs/${digest}`);
    assert.equal(retry.status, 307);
    const second = retry.headers.get('location')!;
    assert.ok(second.startsWith(`${replicas[1].url}/`), second);
    const res = await call(replicas[1].url, 'GET', second.slice(replicas[1].url.length));
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), digest);
  });
});

describe('signed blob URLs on a registry with auth', () => {
  let registry: RegistryProcess;
  let digest: string;
  const basic = { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` };

  before(async () => {
    const htpasswd = join(mkdtempSync(join(tmpdir(), 'blob-redirect-auth-')), 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$')}\n`);
    registry = await startRegistryProcess({ registry: { htpasswd }, config: { routing: ROUTING } });
    const blob = Buffer.from('a private blob');
    digest = sha256(blob);
    const res = await call(registry.url, 'POST', `/v2/private/app/blobs/uploads/?digest=${digest}`, { body: blob, headers: { ...basic, 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 201);
  });
  after(async () => {
    await registry?.stop();
  });

  it('the proxy hands out a redirect only to a client the registry lets read the blob', async () => {
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ name: 'private', url: registry.url, publicUrl: registry.url }], routing: ROUTING });
    try {
      const anonymous = await call(proxy.url, 'GET', `/v2/private/app/blobs/${digest}`);
      assert.equal(anonymous.status, 401, 'forwarded: the registry\'s challenge, no signature');
      assert.equal(anonymous.headers.get('location'), null);
      const wrong = await call(proxy.url, 'GET', `/v2/private/app/blobs/${digest}`, { headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` } });
      assert.equal(wrong.status, 401);
      const missing = await call(proxy.url, 'GET', `/v2/private/app/blobs/sha256:${'0'.repeat(64)}`, { headers: basic });
      assert.equal(missing.status, 404, 'a blob the registry lacks is forwarded, not redirected');
      const allowed = await call(proxy.url, 'GET', `/v2/private/app/blobs/${digest}`, { headers: basic });
      assert.equal(allowed.status, 307);
      const location = allowed.headers.get('location')!;
      // Followed without credentials, as clients do across hosts.
      const blob = await call(registry.url, 'GET', location.slice(registry.url.length));
      assert.equal(blob.status, 200);
      assert.equal(sha256(blob.body), digest);
      assert.equal(await proxy.metric('haproxy_blob_redirects_total', 'server="private"'), 1);
    } finally {
      await proxy.stop();
    }
  });

  it('the signature is the only credential for that one GET', async () => {
    assert.equal((await call(registry.url, 'GET', `/v2/private/app/blobs/${digest}`)).status, 401);
    const signed = await call(registry.url, 'GET', signedPath('private/app', digest));
    assert.equal(signed.status, 200);
    assert.equal(sha256(signed.body), digest);
    // Not for HEAD, not for another resource of the repository: those still need the password.
    const path = signedPath('private/app', digest);
    assert.equal((await call(registry.url, 'HEAD', path)).status, 401);
    assert.equal((await call(registry.url, 'GET', `/v2/private/app/tags/list${path.slice(path.indexOf('?'))}`)).status, 401);
    assert.equal((await call(registry.url, 'GET', signedPath('private/app', digest, Date.now() - 2000))).status, 403);
  });
});

describe('skopeo pulls through the proxy with blob redirects', () => {
  let replicas: RegistryProcess[];
  let proxy: ProxyProcess;

  before(async () => {
    replicas = await startReplicaPair();
    proxy = await startProxy({
      mode: 'active-active',
      backends: replicas.map((r, i) => ({ name: `r${i + 1}`, url: r.url, publicUrl: r.url })),
      routing: ROUTING,
    });
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both replicas up');
  });
  after(async () => {
    await proxy?.stop();
    await Promise.all((replicas ?? []).map((r) => r.stop()));
  });

  it('copies an image out byte-identical while the blob bytes go from the replica to skopeo directly', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const layout = buildImageLayout({ layerSizes: [2 * 1024 * 1024, 3 * 1024 * 1024] });
    const ref = `docker://${host(proxy.url)}/skopeo/redirected:v1`;
    await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, ref);
    const proxyOut = async () => (await proxy.metric('haproxy_server_bytes_out_total', 'server="r1"')) + (await proxy.metric('haproxy_server_bytes_out_total', 'server="r2"'));
    const redirects = async () => (await proxy.metric('haproxy_blob_redirects_total', 'server="r1"')) + (await proxy.metric('haproxy_blob_redirects_total', 'server="r2"'));
    const [out0, redirects0] = [await proxyOut(), await redirects()];
    const sent0 = (await Promise.all(replicas.map(blobSentBytes))).reduce((a, b) => a + b, 0);

    const out = mkdtempSync(join(tmpdir(), 'skopeo-redirect-'));
    await skopeoCopy(ref, `oci:${out}:v1`);
    for (const [d, bytes] of layout.blobs) {
      if (d === layout.digest) continue;
      assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', d.slice(7)))), sha256(bytes));
    }
    // Config and two layers: each blob GET was redirected, and the proxy wrote only headers and
    // the manifest, far below the 5 MiB of layers; the replicas sent those bytes themselves.
    assert.ok((await redirects()) - redirects0 >= 3, `redirects: ${(await redirects()) - redirects0}`);
    const proxied = (await proxyOut()) - out0;
    assert.ok(proxied < 64 * 1024, `the proxy wrote ${proxied} bytes`);
    await eventually(async () => (await Promise.all(replicas.map(blobSentBytes))).reduce((a, b) => a + b, 0) - sent0 >= 5 * 1024 * 1024, () => 'replica blob bytes');
  });
});
