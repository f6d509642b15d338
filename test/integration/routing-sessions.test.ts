// Upload sessions through proxies that keep no table: the session's owner travels in a signed
// token in the Location, so a restarted proxy, or a second proxy with the same secret, sends
// every chunk to the backend that opened the session.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rendezvousOwner } from '../../src/proxy/routing/rendezvous.js';
import { deriveKeyring, resolveSecret } from '../../src/oci/signing.js';
import { signUploadToken, UPLOAD_TOKEN_PARAM } from '../../src/proxy/routing/upload-token.js';
import { hasManifest, PushClient, pushImage, sha256 } from '../helpers/chunked-push.js';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { metricValue, startRoutingProxy, TEST_ROUTING_SECRET, waitForBackend, type RunningProxy } from '../helpers/routing-cluster.js';
import { requireTool, toolPath } from '../helpers/tools.js';

const NAMES = ['r1', 'r2'];
const nodes = NAMES.map((name) => ({ name, weight: 1 }));
const homeOf = (repo: string) => rendezvousOwner(nodes, repo)!.name;
/** A repository whose home is `name` (the hash is deterministic, so a short search finds one). */
const repoHomedOn = (name: string, prefix: string) => {
  for (let i = 0; ; i++) if (homeOf(`${prefix}-${i}`) === name) return `${prefix}-${i}`;
};

async function ociError(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
  return { status: res.status, code: body.errors[0].code, message: body.errors[0].message };
}

describe('routing: upload sessions across proxy restarts and proxy instances', { timeout: 180_000 }, () => {
  const registries: DockerRegistry[] = [];
  let first: RunningProxy | undefined;
  let second: RunningProxy | undefined;
  const spec = () => ({ backends: NAMES.map((name, i) => ({ name, url: registries[i].url })) });
  const urlOf = (name: string) => registries[NAMES.indexOf(name)].url;

  before(async () => {
    if (!toolPath('docker-registry')) return;
    for (let i = 0; i < NAMES.length; i++) registries.push(await startDockerRegistry());
    first = await startRoutingProxy(spec());
    second = await startRoutingProxy(spec());
  });

  after(async () => {
    await first?.stop();
    await second?.stop();
    for (const r of registries) await r.stop();
  });

  it('signs the upload Location with the owning backend', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const location = await new PushClient({ base: () => first!.url }).openUpload('signed/app');
    const url = new URL(location, first!.url);
    assert.equal(url.host, new URL(first!.url).host, 'the Location points at the proxy');
    assert.match(url.searchParams.get(UPLOAD_TOKEN_PARAM) ?? '', /^u1\./);
    assert.ok(url.searchParams.get('_state'), 'the registry’s own state is kept');
  });

  it('completes a chunked upload while the proxy restarts in the middle of it', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    let restarted = false;
    const client = new PushClient({
      base: () => first!.url,
      between: async (step) => {
        if (step === 'patch-1' && !restarted) {
          restarted = true;
          first = await first!.restart();
        }
      },
    });
    const image = await pushImage(client, 'restart/app', 'v1', { layerBytes: 64 * 1024, chunkBytes: 16 * 1024 });
    assert.ok(restarted);
    assert.deepEqual(
      (await Promise.all(NAMES.map((n) => hasManifest(urlOf(n), image.repository, 'v1')))).map((has, i) => (has ? NAMES[i] : '')).filter(Boolean),
      [homeOf('restart/app')],
    );
  });

  it('completes chunked uploads when the client alternates between two proxies', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const bases = [first!.url, second!.url];
    const used = new Set<string>();
    let turn = 0;
    const client = new PushClient({
      base: () => {
        const base = bases[turn++ % 2];
        used.add(base);
        return base;
      },
    });
    const images = [];
    for (let i = 0; i < 6; i++) images.push(await pushImage(client, `alternate/app-${i}`, 'v1', { layerBytes: 40 * 1024, chunkBytes: 8 * 1024 }));
    assert.equal(used.size, 2);
    for (const image of images) {
      const where = [];
      for (const n of NAMES) if (await hasManifest(urlOf(n), image.repository, 'v1')) where.push(n);
      assert.deepEqual(where, [homeOf(image.repository)]);
      for (const base of bases) {
        const res = await fetch(`${base}/v2/${image.repository}/blobs/${image.blobs[0]}`);
        assert.equal(res.status, 200);
        assert.equal(sha256(Buffer.from(await res.arrayBuffer())), image.blobs[0]);
      }
    }
  });

  it('follows the token, not the hash: a session opened on another backend continues there', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const repo = repoHomedOn('r1', 'elsewhere');
    // Opened directly on r2 (not the home), then continued through the proxy with a token that
    // any proxy holding the shared secret accepts.
    const opened = await fetch(`${urlOf('r2')}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(opened.status, 202);
    const direct = new URL(opened.headers.get('location')!, urlOf('r2'));
    const key = deriveKeyring([resolveSecret(TEST_ROUTING_SECRET).value], 'upload-token');
    direct.searchParams.set(UPLOAD_TOKEN_PARAM, signUploadToken(key, 'r2', repo));
    const client = new PushClient({ base: () => second!.url });
    const blob = Buffer.from('continued on the backend that opened the session');
    const next = await client.patch(`${direct.pathname}${direct.search}`, blob, 0);
    await client.commit(next, sha256(blob));
    assert.equal((await fetch(`${urlOf('r2')}/v2/${repo}/blobs/${sha256(blob)}`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${urlOf('r1')}/v2/${repo}/blobs/${sha256(blob)}`, { method: 'HEAD' })).status, 404);
  });

  it('completes an upload opened before a secret rotation, on a proxy that rotated (previousSecrets)', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const client = new PushClient({ base: () => first!.url });
    const location = await client.openUpload('rotated/app');
    const rotated = await startRoutingProxy({ ...spec(), routing: { secret: 'the-next-secret-0123456789', previousSecrets: [TEST_ROUTING_SECRET] } });
    try {
      const blob = Buffer.from('opened under the old secret, finished under the new one');
      const onRotated = new PushClient({ base: () => rotated.url });
      const next = await onRotated.patch(location, blob, 0);
      await onRotated.commit(next, sha256(blob));
      assert.equal((await fetch(`${urlOf(homeOf('rotated/app'))}/v2/rotated/app/blobs/${sha256(blob)}`, { method: 'HEAD' })).status, 200);
      // New sessions are signed with the new secret only: the proxy that did not rotate refuses them.
      const fresh = new URL(await onRotated.openUpload('rotated/app'), rotated.url);
      const res = await fetch(`${first!.url}${fresh.pathname}${fresh.search}`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('chunk') });
      assert.equal((await ociError(res)).code, 'BLOB_UPLOAD_INVALID');
    } finally {
      await rotated.stop();
    }
  });

  it('refuses forged tokens and tokens signed with another secret with 400 BLOB_UPLOAD_INVALID', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const location = new URL(await new PushClient({ base: () => first!.url }).openUpload('forged/app'), first!.url);
    const token = location.searchParams.get(UPLOAD_TOKEN_PARAM)!;
    const other = await startRoutingProxy({ ...spec(), routing: { secret: 'another-secret-entirely-0123' } });
    try {
      const forged = new URL(location);
      forged.searchParams.set(UPLOAD_TOKEN_PARAM, `${token.slice(0, -4)}AAAA`);
      const cases = [
        `${first!.url}${forged.pathname}${forged.search}`,
        `${other.url}${location.pathname}${location.search}`,
        `${first!.url}${location.pathname}?${UPLOAD_TOKEN_PARAM}=%00%ff`,
      ];
      for (const url of cases) {
        const res = await fetch(url, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('chunk') });
        const error = await ociError(res);
        assert.equal(error.status, 400, url);
        assert.equal(error.code, 'BLOB_UPLOAD_INVALID');
        assert.match(error.message, /upload token/);
      }
      assert.equal(await metricValue(other, 'haproxy_routing_upload_token_rejections_total'), 1);
      // The proxies are still serving.
      assert.equal((await fetch(`${first!.url}/v2/`)).status, 200);
    } finally {
      await other.stop();
    }
  });

  it('answers 404 BLOB_UPLOAD_UNKNOWN at once when the owner is down, sending the chunk nowhere', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const repo = repoHomedOn('r2', 'orphan');
    const client = new PushClient({ base: () => first!.url });
    const location = await client.openUpload(repo);
    const patch = () =>
      fetch(new URL(location, first!.url), {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': '0-4' },
        body: Buffer.from('chunk'),
      });
    await registries[1].stop('SIGKILL');
    // Right away, whether or not the health checks have noticed yet: the same answer.
    const early = await ociError(await patch());
    assert.deepEqual([early.status, early.code], [404, 'BLOB_UPLOAD_UNKNOWN'], early.message);
    assert.match(early.message, /r2\) (is down|did not answer); restart the upload/);
    await waitForBackend(first!, 'r2', false);
    const error = await ociError(await patch());
    assert.deepEqual([error.status, error.code], [404, 'BLOB_UPLOAD_UNKNOWN']);
    assert.match(error.message, /r2\) is down; restart the upload/);
    assert.ok(!existsSync(join(registries[0].storage, 'docker/registry/v2/repositories', repo)), 'r1 never saw the repository');
    assert.ok((await metricValue(first!, 'haproxy_routing_upload_affinity_misses_total')) >= 1);
  });
});
