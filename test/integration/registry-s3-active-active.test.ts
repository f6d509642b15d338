// zot's clustering model on S3: stateless registry replicas on one bucket behind
// `ha-proxy --mode active-active`. Every request is served correctly whichever replica gets it;
// the upload token only keeps a session's chunks on one replica while it is up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PushClient, hasManifest, pushImage, sha256, type PushedImage } from '../helpers/chunked-push.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { call, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';

/** Short, so the test of the documented bound waits little; the default is 2 s. */
const CACHE_TTL_MS = 500;
const PUSHES = 30;
const SECRET = 'a routing secret both proxies share';

/** Upload requests (POST, PATCH, PUT of a session) a replica answered, from its metrics. */
async function uploadRequests(reg: RegistryProcess, method: string): Promise<number> {
  const text = await (await fetch(`${reg.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`haproxy_registry_http_requests_total\\{route="uploads?",method="${method}",code="\\d+"\\} (\\d+)`, 'g'))) sum += Number(m[1]);
  return sum;
}

describe('stateless registry replicas on one bucket behind active-active', { skip: s3Skip() }, () => {
  let s3: S3Server;
  let a: RegistryProcess;
  let b: RegistryProcess;
  const proxies: ProxyProcess[] = [];
  const proxy = async (uploadAffinity: string) => {
    const p = await startProxy({
      mode: 'active-active',
      backends: [
        { name: 'a', url: a.url },
        { name: 'b', url: b.url },
      ],
      routing: { secret: SECRET, uploadAffinity },
    });
    proxies.push(p);
    await p.waitFor((s) => s.backends.every((x) => x.up), 'both replicas up');
    return p;
  };
  before(async () => {
    s3 = await startS3Server();
    const shared = { server: s3, prefix: 'cluster/' };
    const registry = { deleteEnabled: true, cacheTtlMs: CACHE_TTL_MS };
    [a, b] = await Promise.all([startRegistryProcess({ s3: shared, registry }), startRegistryProcess({ s3: shared, registry })]);
  });
  after(async () => {
    await Promise.all([...proxies.map((p) => p.stop()), a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await s3?.stop();
  });

  it(`takes ${PUSHES} concurrent chunked pushes with upload affinity off, and every image reads back from both replicas`, { timeout: 300_000 }, async () => {
    const p = await proxy('off');
    const client = new PushClient({ base: () => p.url });
    const pushed: PushedImage[] = await Promise.all(
      Array.from({ length: PUSHES }, (_, i) => pushImage(client, `cluster/app-${i}`, 'v1', { layerBytes: 40 * 1024 + i, chunkBytes: 12 * 1024 })),
    );
    for (const image of pushed) {
      for (const reg of [a, b]) {
        assert.ok(await hasManifest(reg.url, image.repository, image.tag), `${image.repository} on ${reg.url}`);
        for (const digest of image.blobs) {
          const blob = await call(reg.url, 'GET', `/v2/${image.repository}/blobs/${digest}`);
          assert.equal(sha256(blob.body), digest, `${image.repository} ${digest} from ${reg.url}`);
        }
      }
    }
    // Both replicas took uploads: the repositories were spread over them.
    assert.ok((await uploadRequests(a, 'PATCH')) > 0 && (await uploadRequests(b, 'PATCH')) > 0, 'both replicas received chunks');
  });

  it(`never serves a tag or manifest deleted through the other replica for longer than cacheTtlMs (${CACHE_TTL_MS} ms)`, async () => {
    const p = await proxy('preferred');
    const image = await pushImage(new PushClient({ base: () => p.url }), 'cluster/deleted', 'v1');
    // b has the tag and the manifest in its caches...
    assert.ok(await hasManifest(b.url, image.repository, 'v1'));
    assert.ok(await hasManifest(b.url, image.repository, image.manifestDigest));
    // ...when a deletes them.
    assert.equal((await call(a.url, 'DELETE', `/v2/${image.repository}/manifests/v1`)).status, 202);
    assert.equal((await call(a.url, 'DELETE', `/v2/${image.repository}/manifests/${image.manifestDigest}`)).status, 202);
    assert.equal(await hasManifest(a.url, image.repository, 'v1'), false);
    await sleep(CACHE_TTL_MS + 100);
    assert.equal(await hasManifest(b.url, image.repository, 'v1'), false, 'the tag is gone on b');
    assert.equal(await hasManifest(b.url, image.repository, image.manifestDigest), false, 'the manifest is gone on b');
  });

  // Last: it kills a replica.
  it('continues an upload on the other replica when the one holding it is SIGKILLed mid-chunk (affinity preferred)', { timeout: 120_000 }, async () => {
    const p = await proxy('preferred');
    const client = new PushClient({ base: () => p.url });
    const blob = randomBytes(300 * 1024);
    const chunk = 100 * 1024;
    const before = { a: await uploadRequests(a, 'PATCH'), b: await uploadRequests(b, 'PATCH') };
    let location = await client.openUpload('cluster/killed');
    location = await client.patch(location, blob.subarray(0, chunk), 0);
    assert.match(location, /_ha_upload=/, 'the proxy hands out an upload token');
    const owner = (await uploadRequests(a, 'PATCH')) > before.a ? a : b;
    const other = owner === a ? b : a;
    location = await client.patch(location, blob.subarray(chunk, 2 * chunk), chunk);
    assert.equal(await uploadRequests(other, 'PATCH'), owner === a ? before.b : before.a, 'while the owner is up, every chunk goes to it');

    // The third chunk: half of it sent, then the owner dies with the request in flight.
    const third = blob.subarray(2 * chunk);
    let sendRest!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(third.subarray(0, third.length / 2));
        sendRest = () => {
          controller.enqueue(third.subarray(third.length / 2));
          controller.close();
        };
      },
    });
    const target = new URL(location, p.url);
    const inFlight = fetch(target, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${2 * chunk}-${blob.length - 1}`, 'content-length': String(third.length) },
      body,
      duplex: 'half',
    } as RequestInit).then(
      async (res) => res.status,
      () => 0,
    );
    await sleep(300);
    await owner.stop('SIGKILL');
    sendRest();
    assert.notEqual(await inFlight, 202, 'the chunk in flight is not acknowledged');
    await p.waitFor((s) => s.backends.some((x) => !x.up), 'the killed replica marked down');

    // Through the proxy, with the dead replica's token: the other replica has the session, at
    // the offset of the last acknowledged chunk, and takes the chunk again.
    const status = await fetch(target);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${2 * chunk - 1}`);
    location = await client.patch(status.headers.get('location') ?? location, third, 2 * chunk);
    assert.ok((await uploadRequests(other, 'PATCH')) > 0);
    await client.commit(location, sha256(blob));
    const read = await call(other.url, 'GET', `/v2/cluster/killed/blobs/${sha256(blob)}`);
    assert.equal(read.status, 200);
    assert.equal(sha256(read.body), sha256(blob));
  });
});
