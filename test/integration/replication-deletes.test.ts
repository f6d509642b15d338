// Deletes that hold: a DELETE answered 202 through the proxy is gone from every replica at once,
// and stays gone through anti-entropy, a replica crash and restart, on-demand reads, and a peer
// that was down during the delete. Through active-active over two replicating registries and
// through the embedded default.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startHaProxy, waitForHttp, type Managed } from '../helpers/processes.js';
import { call } from '../helpers/registry-process.js';
import { eventually, restartReplica, startReplica, startReplicaSet } from '../helpers/replicas.js';
import { REPLICATION_HEADER, REPLICATION_TIME_HEADER } from '../../src/oci/replication-headers.js';
import { FAST_HEALTH, startRoutingProxy, waitForBackend } from '../helpers/routing-cluster.js';

const cleanup: Managed[] = [];
after(async () => {
  await Promise.all(cleanup.map((p) => p.stop('SIGKILL')));
});

const REPO = 'del/app';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT = `${MANIFEST}, ${INDEX}`;
/** Fast anti-entropy so a round passes in well under a second. */
// A generous ackTimeoutMs: on a loaded machine a slow answer must not drop a healthy peer from the ack set.
const REPLICATION = { ack: 'all', pollIntervalMs: 300, ackTimeoutMs: 10_000 };
/** Long enough for several anti-entropy rounds at REPLICATION.pollIntervalMs. */
const A_FEW_ROUNDS_MS = 1000;

const digestOf = (algorithm: 'sha256' | 'sha512', data: Buffer) => `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;

interface Pushed {
  /** Paths under /v2/<repo>/ in the order the test deletes them. */
  deletions: string[];
}

async function pushBlob(base: string, algorithm: 'sha256' | 'sha512', data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = digestOf(algorithm, data);
  const res = await call(base, 'POST', `/v2/${REPO}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(res.status, 201, `push blob ${digest}: ${res.body.toString()}`);
  return { digest, size: data.length };
}

async function putManifest(base: string, reference: string, body: Buffer, mediaType: string): Promise<Headers> {
  const res = await call(base, 'PUT', `/v2/${REPO}/manifests/${reference}`, { body, headers: { 'content-type': mediaType } });
  assert.equal(res.status, 201, `push manifest ${reference}: ${res.body.toString()}`);
  return res.headers;
}

/**
 * Pushes through `base`: sha256 and sha512 blobs, an image manifest pushed by its sha512 digest
 * with `?tag=img`, an index tagged v1 over it, and a referrer (subject: the image).
 */
async function pushContent(base: string, replicas: readonly string[]): Promise<Pushed> {
  const unique = `${Date.now()}-${Math.random()}`;
  const config = await pushBlob(base, 'sha256', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', unique })));
  const layer256 = await pushBlob(base, 'sha256', Buffer.from(`layer-256 ${unique}`));
  const layer512 = await pushBlob(base, 'sha512', Buffer.from(`layer-512 ${unique}`));
  const image = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [layer256, layer512].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
  }));
  const imageDigest = digestOf('sha512', image);
  const pushedImage = await putManifest(base, `${imageDigest}?tag=img`, image, MANIFEST);
  assert.equal(pushedImage.get('oci-tag'), 'img', 'one OCI-Tag header for the tag created');
  assert.equal(pushedImage.get('docker-content-digest'), imageDigest);
  for (const replica of replicas) {
    // Replicated like any tag write (ack: all), and under the same sha512 digest.
    assert.equal((await head(replica, 'manifests/img')).headers.get('docker-content-digest'), imageDigest, `img on ${replica}`);
  }
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: INDEX,
    manifests: [{ mediaType: MANIFEST, digest: imageDigest, size: image.length, platform: { architecture: 'amd64', os: 'linux' } }],
  }));
  await putManifest(base, 'v1', index, INDEX);
  const referrerConfig = await pushBlob(base, 'sha256', Buffer.from(`{"signature":"${unique}"}`));
  const referrer = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    artifactType: 'application/vnd.example.signature',
    config: { mediaType: 'application/vnd.example.signature', ...referrerConfig },
    layers: [],
    subject: { mediaType: MANIFEST, digest: imageDigest, size: image.length },
  }));
  const referrerDigest = digestOf('sha256', referrer);
  await putManifest(base, referrerDigest, referrer, MANIFEST);
  return {
    deletions: [
      'manifests/v1',
      'manifests/img',
      `manifests/${digestOf('sha256', index)}`,
      `manifests/${referrerDigest}`,
      `manifests/${imageDigest}`,
      ...[config, layer256, layer512, referrerConfig].map((b) => `blobs/${b.digest}`),
    ],
  };
}

async function head(base: string, path: string): Promise<Response> {
  const res = await fetch(`${base}/v2/${REPO}/${path}`, { method: 'HEAD', headers: { accept: ACCEPT } });
  await res.arrayBuffer();
  return res;
}

/** HEAD through the proxy and on every replica: 404, and only the replicas say it was a delete. */
async function assertGone(proxy: string, replicas: readonly string[], paths: readonly string[], when: string): Promise<void> {
  for (const path of paths) {
    const viaProxy = await head(proxy, path);
    const direct = await Promise.all(replicas.map((replica) => head(replica, path)));
    const seen = `proxy ${viaProxy.status}, replicas ${direct.map((r) => `${r.status} deleted=${r.headers.get('x-ha-proxy-deleted')}`).join(', ')}`;
    assert.equal(viaProxy.status, 404, `${when}: HEAD ${path} through the proxy (${seen})`);
    assert.equal(viaProxy.headers.get('x-ha-proxy-deleted'), null, 'the proxy strips the replica-only header');
    direct.forEach((res, i) => {
      assert.equal(res.status, 404, `${when}: HEAD ${path} on ${replicas[i]} (${seen})`);
      assert.match(res.headers.get('x-ha-proxy-deleted') ?? '', /^[0-9]+$/, `${when}: ${replicas[i]} says ${path} was deleted (${seen})`);
    });
  }
}

/** A GET (not HEAD) of each deleted object straight on a replica: the on-demand fetch must not bring it back. */
async function assertOnDemandGone(replicas: readonly string[], paths: readonly string[]): Promise<void> {
  for (const replica of replicas) {
    for (const path of paths) {
      const res = await call(replica, 'GET', `/v2/${REPO}/${path}`, { headers: { accept: ACCEPT } });
      assert.equal(res.status, 404, `on-demand GET ${path} on ${replica}`);
    }
  }
}

async function deleteThrough(proxy: string, path: string): Promise<{ status: number; body: string }> {
  const res = await call(proxy, 'DELETE', `/v2/${REPO}/${path}`);
  return { status: res.status, body: res.body.toString() };
}

/** Deletes each object in turn through the proxy and checks it is gone everywhere right after the 202. */
async function deleteAll(proxy: string, replicas: readonly string[], pushed: Pushed): Promise<void> {
  for (const path of pushed.deletions) {
    const res = await deleteThrough(proxy, path);
    assert.equal(res.status, 202, `DELETE ${path}: ${res.body}`);
    await assertGone(proxy, replicas, [path], `right after DELETE ${path}`);
  }
}

describe('deletes that hold', () => {
  it('active-active: every delete is gone everywhere at once, after anti-entropy, a SIGKILL and restart, and on-demand reads', async () => {
    const replicas = await startReplicaSet(2, { replication: REPLICATION });
    cleanup.push(...replicas);
    const proxy = await startRoutingProxy({ backends: replicas.map((r, i) => ({ name: `r${i}`, url: r.url })) });
    cleanup.push(proxy);
    const urls = replicas.map((r) => r.url);
    const pushed = await pushContent(proxy.url, urls);
    await deleteAll(proxy.url, urls, pushed);

    await sleep(A_FEW_ROUNDS_MS);
    await assertGone(proxy.url, urls, pushed.deletions, 'after anti-entropy rounds');
    await replicas[0].stop('SIGKILL');
    const restarted = await restartReplica(replicas[0]);
    cleanup.push(restarted);
    await waitForBackend(proxy, 'r0', true);
    await assertGone(proxy.url, urls, pushed.deletions, 'after a SIGKILL and restart');
    await assertOnDemandGone(urls, pushed.deletions);
  });

  /** Two replicas behind a proxy, the content pushed to both, then replica b SIGKILLed and seen DOWN. */
  const pushThenKillPeer = async (replication: typeof REPLICATION) => {
    const [a, b] = await startReplicaSet(2, { replication });
    cleanup.push(a, b);
    const proxy = await startRoutingProxy({ backends: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }] });
    cleanup.push(proxy);
    const pushed = await pushContent(proxy.url, [a.url, b.url]);
    await b.stop('SIGKILL');
    await waitForBackend(proxy, 'b', false);
    return { a, b, proxy, pushed };
  };

  it('a peer down during the delete: ack all acknowledges, the peer catches up when it returns, nothing comes back', async () => {
    const { a, b, proxy, pushed } = await pushThenKillPeer(REPLICATION);
    await deleteAll(proxy.url, [a.url], pushed);

    const back = await restartReplica(b);
    cleanup.push(back);
    // b held everything when it went down: it learns of the deletes from a's queue and anti-entropy.
    await eventually(
      async () => (await Promise.all(pushed.deletions.map((p) => head(b.url, p)))).every((r) => r.status === 404),
      async () => (await Promise.all(pushed.deletions.map(async (p) => `${p}: ${(await head(b.url, p)).status}`))).join(', '),
      20_000,
    );
    await waitForBackend(proxy, 'b', true);
    await sleep(A_FEW_ROUNDS_MS);
    await assertGone(proxy.url, [a.url, b.url], pushed.deletions, 'after the peer came back');
    await assertOnDemandGone([a.url, b.url], pushed.deletions);
  });

  it('a peer down during the delete: ack majority refuses it (503), the delete still reaches the peer when it returns', async () => {
    const { a, b, proxy, pushed } = await pushThenKillPeer({ ...REPLICATION, ack: 'majority' });
    const [first] = pushed.deletions;
    const refused = await deleteThrough(proxy.url, first);
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.body, /ack: majority.*1 of 2 replicas hold the delete, 2 required/);
    // Not rolled back: the replica that took it keeps it, and the peer gets it when it returns.
    await assertGone(proxy.url, [a.url], [first], 'after the refused delete');
    const back = await restartReplica(b);
    cleanup.push(back);
    await eventually(async () => (await head(b.url, first)).status === 404, () => `${first} still on b`, 20_000);
    await waitForBackend(proxy, 'b', true);
    await sleep(A_FEW_ROUNDS_MS);
    await assertGone(proxy.url, [a.url, b.url], [first], 'after the peer came back');
  });

  it('a peer\'s delete delivered twice leaves the blob link and the tag deleted', async () => {
    // Delivered twice happens: an ack copy that answered after its deadline and its retry, or an
    // anti-entropy repair queued while the ack copy was in flight. The second delivery once
    // counted as a delete lost to a newer write, and re-linked the blob it had just deleted.
    const replica = await startReplica({ peers: [`http://127.0.0.1:${await freePort()}`], replication: REPLICATION });
    cleanup.push(replica);
    const blob = await pushBlob(replica.url, 'sha256', Buffer.from(`twice ${Date.now()} ${Math.random()}`));
    await putManifest(replica.url, 'twice', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob }, layers: [] })), MANIFEST);
    const fromPeer = { [REPLICATION_HEADER]: 'http://127.0.0.1:1', [REPLICATION_TIME_HEADER]: String(Date.now()) };
    for (const path of ['manifests/twice', `blobs/${blob.digest}`]) {
      const first = await call(replica.url, 'DELETE', `/v2/${REPO}/${path}`, { headers: fromPeer });
      assert.equal(first.status, 202, first.body.toString());
      const again = await call(replica.url, 'DELETE', `/v2/${REPO}/${path}`, { headers: fromPeer });
      assert.equal(again.status, 404, again.body.toString());
      const res = await head(replica.url, path);
      assert.equal(res.status, 404, `${path} after the same delete twice`);
      assert.match(res.headers.get('x-ha-proxy-deleted') ?? '', /^[0-9]+$/, `${path} is still a delete`);
    }
  });

  it('a peer\'s delete by digest older than a push here leaves the manifest (untagged or tagged) in place', async () => {
    // The peer deleted the manifest before this replica's client pushed it: the push is the
    // newer write and wins, here and (by its time) on the peer.
    const replica = await startReplica({ peers: [`http://127.0.0.1:${await freePort()}`], replication: REPLICATION });
    cleanup.push(replica);
    const blob = await pushBlob(replica.url, 'sha256', Buffer.from(`older delete ${Date.now()} ${Math.random()}`));
    const manifest = (note: string) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob }, layers: [], annotations: { note } }));
    const untagged = manifest('untagged');
    const untaggedDigest = digestOf('sha256', untagged);
    await putManifest(replica.url, untaggedDigest, untagged, MANIFEST);
    const tagged = manifest('tagged');
    const taggedDigest = digestOf('sha256', tagged);
    await putManifest(replica.url, 'kept', tagged, MANIFEST);
    const olderDelete = { [REPLICATION_HEADER]: 'http://127.0.0.1:1', [REPLICATION_TIME_HEADER]: String(Date.now() - 60_000) };
    for (const digest of [untaggedDigest, taggedDigest]) {
      const res = await call(replica.url, 'DELETE', `/v2/${REPO}/manifests/${digest}`, { headers: olderDelete });
      assert.equal(res.status, 202, res.body.toString());
      const got = await call(replica.url, 'GET', `/v2/${REPO}/manifests/${digest}`, { headers: { accept: ACCEPT } });
      assert.equal(got.status, 200, `${digest} after an older delete from a peer`);
      assert.equal(digestOf('sha256', got.body), digest);
      assert.equal(got.headers.get('content-type'), MANIFEST);
    }
    assert.equal((await head(replica.url, 'manifests/kept')).headers.get('docker-content-digest'), taggedDigest, 'the tag is back too');
    const newerDelete = { [REPLICATION_HEADER]: 'http://127.0.0.1:1', [REPLICATION_TIME_HEADER]: String(Date.now() + 60_000) };
    assert.equal((await call(replica.url, 'DELETE', `/v2/${REPO}/manifests/${untaggedDigest}`, { headers: newerDelete })).status, 202);
    assert.equal((await head(replica.url, `manifests/${untaggedDigest}`)).status, 404, 'a newer delete from a peer still wins');
  });

  it('embedded default: deletes hold through the proxy, anti-entropy, a replica SIGKILL and its supervised restart', async () => {
    const data = mkdtempSync(join(tmpdir(), 'embedded-deletes-'));
    const port = await freePort();
    const configFile = join(data, 'config.json');
    writeFileSync(configFile, JSON.stringify({
      mode: 'active-standby',
      listen: `127.0.0.1:${port}`,
      adminListen: `127.0.0.1:${await freePort()}`,
      logLevel: 'warn',
      workers: 1,
      healthCheck: FAST_HEALTH,
      embedded: { replicas: 2, data, restartMinDelayMs: 100 },
      replication: { ...REPLICATION, retry: { initialDelayMs: 100, maxDelayMs: 250 } },
    }));
    const main = startHaProxy(['--config', configFile]);
    cleanup.push(main);
    const proxy = `http://127.0.0.1:${port}`;
    await waitForHttp(`${proxy}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });
    const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
    const urls = ports.map((p) => `http://127.0.0.1:${p.listen}`);
    const pushed = await pushContent(proxy, urls);
    await deleteAll(proxy, urls, pushed);

    await sleep(A_FEW_ROUNDS_MS);
    await assertGone(proxy, urls, pushed.deletions, 'after anti-entropy rounds');
    const pidFile = join(data, 'replica-1.pid');
    const firstPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(firstPid, 'SIGKILL');
    await eventually(async () => {
      if (Number(readFileSync(pidFile, 'utf8')) === firstPid) return false;
      try {
        return (await fetch(`${urls[0]}/v2/`)).status === 200;
      } catch {
        return false;
      }
    }, () => 'replica-1 was not restarted');
    await assertGone(proxy, urls, pushed.deletions, 'after a replica SIGKILL and restart');
    await assertOnDemandGone(urls, pushed.deletions);
  });
});
