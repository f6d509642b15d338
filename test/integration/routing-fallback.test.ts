// Read fallback (a 404 from the home is retried on the other backends, hiding replication lag),
// the digest guard (a blob under another digest never reaches the client), and cookie
// stickiness for non-registry traffic.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rendezvousOwner } from '../../src/proxy/routing/rendezvous.js';
import { PushClient, pushImage, sha256, OCI_MANIFEST } from '../helpers/chunked-push.js';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { metricValue, startRoutingProxy, waitForBackend, type RunningProxy } from '../helpers/routing-cluster.js';
import { requireTool, toolPath } from '../helpers/tools.js';

function repoHomedOn(names: string[], home: string, prefix: string): string {
  const nodes = names.map((name) => ({ name, weight: 1 }));
  for (let i = 0; ; i++) if (rendezvousOwner(nodes, `${prefix}-${i}`)!.name === home) return `${prefix}-${i}`;
}

/** An HTTP server on loopback, closed by the test. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('routing: read fallback and the digest guard', { timeout: 120_000 }, () => {
  let registry: DockerRegistry | undefined;
  let other: DockerRegistry | undefined;
  let liar: { server: Server; url: string } | undefined;
  const proxies: RunningProxy[] = [];

  before(async () => {
    if (!toolPath('docker-registry')) return;
    registry = await startDockerRegistry();
    other = await startDockerRegistry();
    // A misbehaving backend: healthy, but it answers every blob with the wrong content.
    liar = await listen((req, res) => {
      const body = Buffer.from('not the blob you asked for');
      if (/\/blobs\/sha256:/.test(req.url ?? '')) {
        res.writeHead(200, { 'docker-content-digest': sha256(body), 'content-length': body.length, 'content-type': 'application/octet-stream' });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
        res.end('{}');
      }
    });
  });

  after(async () => {
    for (const p of proxies) await p.stop();
    await registry?.stop();
    await other?.stop();
    await close(liar?.server);
  });

  it('finds content that only a non-home backend has (replication lag), unless read fallback is off', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const backends = [
      { name: 'home', url: registry!.url },
      { name: 'lagging', url: other!.url },
    ];
    const withFallback = await startRoutingProxy({ backends });
    const without = await startRoutingProxy({ backends, routing: { readFallback: false } });
    proxies.push(withFallback, without);
    const repo = repoHomedOn(['home', 'lagging'], 'home', 'lag');
    // Pushed straight to the non-home backend, as if replication had not reached the home yet.
    const image = await pushImage(new PushClient({ base: () => other!.url }), repo, 'v1');
    const manifest = await fetch(`${withFallback.url}/v2/${repo}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(manifest.status, 200);
    assert.equal(sha256(Buffer.from(await manifest.arrayBuffer())), image.manifestDigest);
    const blob = await fetch(`${withFallback.url}/v2/${repo}/blobs/${image.blobs[0]}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), image.blobs[0]);
    assert.equal(await metricValue(withFallback, 'haproxy_routing_read_fallbacks_total', { reason: 'not_found' }), 2);

    const missing = await fetch(`${without.url}/v2/${repo}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0].code, 'MANIFEST_UNKNOWN');
    // A digest nobody has is still a plain 404 from the last backend asked.
    const unknown = await fetch(`${withFallback.url}/v2/${repo}/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(unknown.status, 404);
  });

  it('never passes on a blob whose Docker-Content-Digest differs from the one requested', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const names = ['liar', 'honest'];
    const proxy = await startRoutingProxy({ backends: [{ name: 'liar', url: liar!.url }, { name: 'honest', url: registry!.url }] });
    proxies.push(proxy);
    const onLiar = repoHomedOn(names, 'liar', 'guarded');
    const image = await pushImage(new PushClient({ base: () => registry!.url }), onLiar, 'v1');
    // Home (the liar) answers with other bytes: dropped, the honest backend serves the real blob.
    const good = await fetch(`${proxy.url}/v2/${onLiar}/blobs/${image.blobs[0]}`);
    assert.equal(good.status, 200);
    assert.equal(sha256(Buffer.from(await good.arrayBuffer())), image.blobs[0]);
    // Home is honest but lacks the blob; the only other answer is a lie: 502, not the lie.
    const onHonest = repoHomedOn(names, 'honest', 'guarded');
    const bad = await fetch(`${proxy.url}/v2/${onHonest}/blobs/${image.blobs[0]}`);
    const text = await bad.text();
    assert.equal(bad.status, 502);
    assert.match(text, /UNAVAILABLE/);
    assert.ok(!text.includes('not the blob you asked for'));
    assert.equal(await metricValue(proxy, 'haproxy_routing_read_fallbacks_total', { reason: 'digest_mismatch' }), 2);
  });
});

describe('routing: what reaches the backend of an upload session', { timeout: 60_000 }, () => {
  let liar: { server: Server; url: string } | undefined;
  let proxy: RunningProxy | undefined;
  const seen: string[] = [];

  before(async () => {
    // A backend that opens sessions and records every request target it receives.
    liar = await listen((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const session = /\/blobs\/uploads\//.test(req.url ?? '');
      res.writeHead(session ? 202 : 200, session ? { location: '/v2/app/blobs/uploads/s-1?_state=opaque%3D%3D', 'content-length': 0 } : {});
      res.end();
    });
    proxy = await startRoutingProxy({ backends: [{ name: 'only', url: liar.url }] });
  });

  after(async () => {
    await proxy?.stop();
    await close(liar?.server);
  });

  it('strips the upload token before forwarding and keeps the registry’s own query byte for byte', async () => {
    const opened = await fetch(`${proxy!.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const location = opened.headers.get('location')!;
    assert.match(location, /^\/v2\/app\/blobs\/uploads\/s-1\?_state=opaque%3D%3D&_ha_upload=u1\./);
    const patched = await fetch(`${proxy!.url}${location}&digest=sha256%3Aabc`, { method: 'PUT' });
    assert.equal(patched.status, 202);
    // Health checks (GET /v2/) land in `seen` too, at any moment: look at the PUTs alone.
    assert.deepEqual(
      seen.filter((line) => line.startsWith('PUT ')),
      ['PUT /v2/app/blobs/uploads/s-1?_state=opaque%3D%3D&digest=sha256%3Aabc'],
    );
  });
});

describe('routing: sticky cookies for web traffic', { timeout: 60_000 }, () => {
  const webs: Array<{ server: Server; url: string }> = [];
  let proxy: RunningProxy | undefined;

  before(async () => {
    for (const name of ['web-a', 'web-b']) {
      webs.push(
        await listen((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
          res.end(JSON.stringify({ name, cookie: req.headers.cookie ?? null }));
        }),
      );
    }
    proxy = await startRoutingProxy({
      backends: [
        { name: 'web-a', url: webs[0].url },
        { name: 'web-b', url: webs[1].url },
      ],
      routing: { sticky: 'cookie', cookieName: 'SRV' },
    });
  });

  after(async () => {
    await proxy?.stop();
    for (const w of webs) await close(w.server);
  });

  const get = async (cookie?: string) => {
    const res = await fetch(`${proxy!.url}/ui/`, { headers: cookie ? { cookie } : {} });
    const body = (await res.json()) as { name: string; cookie: string | null };
    return { body, setCookie: res.headers.get('set-cookie'), cacheControl: res.headers.get('cache-control') };
  };

  it('inserts a cookie, follows it, hides it from the backend and keeps it out of shared caches', async () => {
    const first = await get();
    assert.match(first.setCookie ?? '', /^SRV=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.equal(first.cacheControl, 'private, max-age=60');
    const cookie = `theme=dark; ${first.setCookie!.split(';')[0]}`;
    for (let i = 0; i < 6; i++) {
      const again = await get(cookie);
      assert.equal(again.body.name, first.body.name);
      assert.equal(again.body.cookie, 'theme=dark', 'the backend does not see the sticky cookie');
      assert.equal(again.setCookie, null, 'a valid cookie is not set again');
      assert.equal(again.cacheControl, 'public, max-age=60');
    }
  });

  it('re-dispatches a client whose backend is down, with a new cookie', async () => {
    const first = await get();
    const cookie = first.setCookie!.split(';')[0];
    const index = first.body.name === 'web-a' ? 0 : 1;
    await close(webs[index].server);
    await waitForBackend(proxy!, first.body.name, false);
    const moved = await get(cookie);
    assert.notEqual(moved.body.name, first.body.name);
    assert.match(moved.setCookie ?? '', /^SRV=/);
    assert.ok(await metricValue(proxy!, 'haproxy_routing_cookie_redispatches_total') >= 1);
  });
});
