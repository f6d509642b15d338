// The registry on an S3 bucket (radosgw), beyond the API suites that run on both drivers: the
// start-up check of the bucket, a skopeo round trip, and blob GETs answered with a 307 to a
// presigned URL (registry.s3.redirect) that real clients follow.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildImageLayout, sha256 } from '../helpers/oci-layout.js';
import { freePort } from '../helpers/ports.js';
import { startHaProxy } from '../helpers/processes.js';
import { call, pushBlob, pushImage, s3RegistrySettings, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { eventually } from '../helpers/replicas.js';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const host = (url: string) => url.replace(/^http:\/\//, '');
let n = 0;
const prefix = () => `reg-${process.pid}-${++n}/`;

describe('the registry on S3 (radosgw)', { skip: s3Skip() }, () => {
  let s3: S3Server;
  const started: RegistryProcess[] = [];
  const registry = async (settings?: Record<string, unknown>) => {
    const reg = await startRegistryProcess({ s3: { server: s3, prefix: prefix(), settings }, registry: { deleteEnabled: true } });
    started.push(reg);
    return reg;
  };
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => {
    await Promise.all(started.map((r) => r.stop('SIGKILL')));
    await s3?.stop();
  });

  /** Starts a registry on `s3` (with `env` over the server's variables); resolves its exit code and output. */
  const exitOf = async (section: Record<string, unknown>, env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-s3-bad-'));
    const file = join(dir, 'registry.json');
    writeFileSync(file, JSON.stringify({ mode: 'registry', listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', registry: { s3: section } }));
    const base = s3RegistrySettings({ server: s3, prefix: '' }).env;
    const proc = startHaProxy(['--config', file], { env: { ...process.env, ...base, ...env } });
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    return { code, output: proc.output() };
  };

  // A registry that starts anyway never exits: the timeout turns that into a failure.
  it('refuses to start (status 1) on a missing bucket, wrong credentials or an unreachable endpoint, naming endpoint and bucket', { timeout: 60_000 }, async () => {
    const missing = await exitOf({ bucket: 'no-such-bucket' });
    assert.equal(missing.code, 1);
    assert.match(missing.output, new RegExp(`registry\\.s3: cannot use bucket "no-such-bucket" at ${s3.endpoint}: .*NoSuchBucket`));
    const wrongSecret = await exitOf({ bucket: s3.bucket }, { AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    assert.equal(wrongSecret.code, 1);
    assert.match(wrongSecret.output, /registry\.s3: cannot use bucket .*SignatureDoesNotMatch/);
    const unreachable = await exitOf({ bucket: s3.bucket, endpoint: 'http://127.0.0.1:1' });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.output, /registry\.s3: cannot use bucket "[^"]+" at http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    const noCredentials = await exitOf({ bucket: s3.bucket }, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    assert.equal(noCredentials.code, 2);
    assert.match(noCredentials.output, /registry\.s3: no credentials/);
  });

  it('is ready on a writable bucket and copies an image in and back out with skopeo byte-identical', async (t) => {
    const reg = await registry();
    assert.equal((await fetch(`${reg.adminUrl}/readyz`)).status, 200);
    if (!requireTool(t, 'skopeo')) return;
    // A layer above the 8 MiB part size: committed as a multipart upload.
    const layout = buildImageLayout({ layerSizes: [1024, 300 * 1024, 9 * 1024 * 1024] });
    const ref = `docker://${host(reg.url)}/s3/image:v1`;
    await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, ref);
    assert.equal(await skopeoDigest(ref), layout.digest);
    const out = mkdtempSync(join(tmpdir(), 'skopeo-s3-out-'));
    await skopeoCopy(ref, `oci:${out}:v1`);
    for (const [digest, bytes] of layout.blobs) assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)))), sha256(bytes));
  });

  it('replicates between two registries on two prefixes (queue and stamps in the bucket) as between directories', { timeout: 120_000 }, async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const peerOf = (port: number) => ({ replication: { peers: [{ url: `http://127.0.0.1:${port}` }], ackTimeoutMs: 5000 } });
    const [ra, rb] = await Promise.all([
      startRegistryProcess({ port: pa, s3: { server: s3, prefix: prefix() }, registry: { deleteEnabled: true }, config: peerOf(pb) }),
      startRegistryProcess({ port: pb, s3: { server: s3, prefix: prefix() }, registry: { deleteEnabled: true }, config: peerOf(pa) }),
    ]);
    started.push(ra, rb);
    // The default write concern (all): the 201 means the peer holds the image too.
    const image = await pushImage(ra.url, 'replicated/image', 'v1');
    const got = await call(rb.url, 'GET', '/v2/replicated/image/manifests/v1');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, image.manifest);
    assert.equal((await call(rb.url, 'GET', `/v2/replicated/image/blobs/${image.configDigest}`)).status, 200);
  });

  describe('with registry.s3.redirect', () => {
    let reg: RegistryProcess;
    before(async () => {
      reg = await registry({ redirect: true });
    });

    it('answers a blob GET with a 307 to a presigned URL of the bucket, and HEAD itself', async () => {
      const data = Buffer.from('bytes served by the bucket itself');
      const digest = await pushBlob(reg.url, 'redirect/blob', data);
      const head = await call(reg.url, 'HEAD', `/v2/redirect/blob/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(data.length));
      const get = await call(reg.url, 'GET', `/v2/redirect/blob/blobs/${digest}`);
      assert.equal(get.status, 307);
      assert.equal(get.headers.get('docker-content-digest'), digest);
      const location = new URL(get.headers.get('location')!);
      assert.equal(location.origin, s3.endpoint);
      assert.equal(location.searchParams.get('X-Amz-Expires'), '1200');
      assert.ok(location.searchParams.get('X-Amz-Signature'));
      // Followed without credentials: the bytes, whole and by range.
      const followed = await fetch(`${reg.url}/v2/redirect/blob/blobs/${digest}`);
      assert.equal(followed.status, 200);
      assert.equal(sha256(Buffer.from(await followed.arrayBuffer())), digest);
      const { stdout } = await run('curl', ['-sfL', '-r', '6-11', `${reg.url}/v2/redirect/blob/blobs/${digest}`]);
      assert.equal(stdout, 'served');
      // A repository without the blob gets 404 from the registry, not a URL.
      assert.equal((await call(reg.url, 'GET', `/v2/redirect/other/blobs/${digest}`)).status, 404);
      // The signature covers the key: another key with it is refused by S3.
      location.pathname = location.pathname.replace(/data$/, 'datx');
      assert.equal((await fetch(location)).status, 403);
    });

    it('lets skopeo pull through the redirects with every digest verified', async (t) => {
      if (!requireTool(t, 'skopeo')) return;
      const layout = buildImageLayout({ layerSizes: [2048, 600 * 1024] });
      const ref = `docker://${host(reg.url)}/redirect/image:v1`;
      await skopeoCopy(`oci:${layout.dir}:${layout.tag}`, ref);
      const out = mkdtempSync(join(tmpdir(), 'skopeo-redirect-out-'));
      await skopeoCopy(ref, `oci:${out}:v1`);
      for (const [digest, bytes] of layout.blobs) assert.equal(sha256(readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)))), sha256(bytes));
      const metrics = await (await fetch(`${reg.adminUrl}/metrics`)).text();
      assert.match(metrics, /haproxy_registry_http_requests_total\{route="blob",method="GET",code="307"\} [1-9]/);
    });

    it('names registry.s3.redirectEndpoint in the URLs, where S3 accepts them (the signature covers that host)', async () => {
      // The public address: a relay to radosgw, as a DNS name or TCP load balancer would be.
      const relay = await startTcpRelay(Number(new URL(s3.endpoint).port));
      try {
        const behind = await registry({ redirect: true, redirectEndpoint: `${relay.url}/` });
        const data = Buffer.from('bytes fetched from the public endpoint');
        const digest = await pushBlob(behind.url, 'redirect/public', data);
        const location = new URL((await call(behind.url, 'GET', `/v2/redirect/public/blobs/${digest}`)).headers.get('location')!);
        assert.equal(location.origin, relay.url);
        const followed = await fetch(location);
        assert.equal(followed.status, 200);
        assert.equal(sha256(Buffer.from(await followed.arrayBuffer())), digest);
      } finally {
        await relay.close();
      }
    });

    it('hands out URLs that expire after registry.s3.redirectExpiresMs', async () => {
      const short = await registry({ redirect: true, redirectExpiresMs: 1000 });
      const { configDigest } = await pushImage(short.url, 'redirect/short', 'v1');
      const location = (await call(short.url, 'GET', `/v2/redirect/short/blobs/${configDigest}`)).headers.get('location')!;
      assert.equal(new URL(location).searchParams.get('X-Amz-Expires'), '1');
      assert.equal((await fetch(location)).status, 200);
      // Polled rather than slept: S3 refuses it once the second is past (10 s: a loaded machine).
      await eventually(async () => (await fetch(location)).status === 403, () => 'the presigned URL still works', 10_000);
    });
  });
});
