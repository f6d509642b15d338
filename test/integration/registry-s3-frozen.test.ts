// The registry on S3 when S3 freezes: a TCP relay between the registry and radosgw stops moving
// bytes while every socket stays open (a frozen or partitioned server accepts and never answers).
// Every request that needs S3 then ends within registry.s3.timeouts with 503 UNAVAILABLE (or a cut
// connection once a body streams), the registry stays up, serves again after the thaw, and nothing
// it acknowledged is lost. Before S3 requests had bounds, each of these waited for as long as the
// client did: the tests' own timeout (far above the bounds set here) is what fails them then.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../helpers/oci-layout.js';
import { call, pushBlob, pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const MiB = 1024 * 1024;
/** A request is answered within connectMs + responseHeadersMs = 3 s; a stalled body after 2 s. */
const TIMEOUTS = { connectMs: 1000, responseHeadersMs: 2000, bodyIdleMs: 2000 };
/** Far above every bound: only a request that never ends reaches it. */
const TEST_TIMEOUT_MS = 60_000;

describe('the registry on S3 when S3 freezes', { skip: s3Skip(), timeout: 5 * TEST_TIMEOUT_MS }, () => {
  let s3: S3Server;
  let relay: TcpRelay;
  let reg: RegistryProcess;
  before(async () => {
    s3 = await startS3Server();
    relay = await startTcpRelay(Number(new URL(s3.endpoint).port));
    reg = await startRegistryProcess({ s3: { server: s3, prefix: `frozen-${process.pid}/`, settings: { endpoint: relay.url, timeouts: TIMEOUTS } } });
  });
  after(async () => {
    relay?.thaw();
    await reg?.stop('SIGKILL');
    await relay?.close();
    await s3?.stop();
  });

  /** The registry still answers requests that need no storage, and is ready again once S3 is. */
  const assertUp = async () => {
    assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
  };

  it('answers a blob GET with 503 UNAVAILABLE and Retry-After while S3 is frozen, and the blob after the thaw', { timeout: TEST_TIMEOUT_MS }, async () => {
    const data = randomBytes(4096);
    const digest = await pushBlob(reg.url, 'frozen/get', data);
    relay.freeze();
    try {
      const frozen = await call(reg.url, 'GET', `/v2/frozen/get/blobs/${digest}`);
      assert.equal(frozen.status, 503);
      assert.equal(frozen.code(), 'UNAVAILABLE');
      assert.match(frozen.body.toString(), /storage is unavailable: S3 no answer within 2000 ms/);
      assert.equal(frozen.headers.get('retry-after'), '5');
      await assertUp();
    } finally {
      relay.thaw();
    }
    const thawed = await call(reg.url, 'GET', `/v2/frozen/get/blobs/${digest}`);
    assert.equal(thawed.status, 200);
    assert.equal(sha256(thawed.body), digest);
  });

  it('cuts a blob GET whose S3 body stalls mid-way (never a short body that looks complete), then serves it whole', { timeout: TEST_TIMEOUT_MS }, async () => {
    const data = randomBytes(8 * MiB);
    const digest = await pushBlob(reg.url, 'frozen/stall', data);
    // The lookups before the body are a few KiB: the freeze strikes inside the blob's bytes.
    relay.freezeAfter(2 * MiB);
    try {
      const res = await fetch(`${reg.url}/v2/frozen/stall/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(data.length));
      await assert.rejects(res.arrayBuffer());
      await assertUp();
    } finally {
      relay.thaw();
    }
    const whole = await call(reg.url, 'GET', `/v2/frozen/stall/blobs/${digest}`);
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), digest);
  });

  it('does not take a registry client that reads slowly for a stalled S3: a download paused past bodyIdleMs completes', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Larger than every socket buffer between S3 and the client, so the S3 body itself is held back.
    const data = randomBytes(32 * MiB);
    const digest = await pushBlob(reg.url, 'frozen/slow', data);
    const res = await fetch(`${reg.url}/v2/frozen/slow/blobs/${digest}`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [(await reader.read()).value!];
    await sleep(2 * TIMEOUTS.bodyIdleMs);
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    assert.equal(sha256(Buffer.concat(chunks)), digest);
  });

  it('refuses a manifest PUT with 503 while S3 is frozen, stores it when sent again after the thaw, and keeps what was acknowledged before', { timeout: TEST_TIMEOUT_MS }, async () => {
    const before = await pushImage(reg.url, 'frozen/manifest', 'v1');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: Math.random() }));
    const configDigest = await pushBlob(reg.url, 'frozen/manifest', config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [],
    });
    const put = () => call(reg.url, 'PUT', '/v2/frozen/manifest/manifests/v2', { body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    relay.freeze();
    try {
      const frozen = await put();
      assert.equal(frozen.status, 503);
      assert.equal(frozen.code(), 'UNAVAILABLE');
      await assertUp();
    } finally {
      relay.thaw();
    }
    assert.equal((await call(reg.url, 'GET', '/v2/frozen/manifest/manifests/v2')).status, 404);
    assert.equal((await put()).status, 201);
    assert.equal((await call(reg.url, 'GET', '/v2/frozen/manifest/manifests/v2')).body.toString(), manifest);
    assert.deepEqual((await call(reg.url, 'GET', '/v2/frozen/manifest/manifests/v1')).body, before.manifest);
  });

  it('answers an upload chunk whose part write stalls with 503; after the thaw the upload resumes at its acknowledged size and completes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const first = randomBytes(6 * MiB);
    const second = randomBytes(9 * MiB);
    const opened = await fetch(`${reg.url}/v2/frozen/upload/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
    assert.equal(opened.status, 202);
    const location = new URL(opened.headers.get('location')!, reg.url).toString();
    const patch = (chunk: Buffer, offset: number) =>
      fetch(location, { method: 'PATCH', body: chunk, headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` } });
    const acked = await patch(first, 0);
    assert.equal(acked.status, 202);
    assert.equal(acked.headers.get('range'), `0-${first.length - 1}`);
    // The session's lookups are a few KiB: S3 stops reading inside the 8 MiB part upload.
    relay.freezeAfter(2 * MiB, 'target');
    try {
      const stalled = await patch(second, first.length);
      assert.equal(stalled.status, 503);
      assert.match(await stalled.text(), /UNAVAILABLE/);
      await assertUp();
    } finally {
      relay.thaw();
    }
    const status = await fetch(location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${first.length - 1}`);
    assert.equal((await patch(second, first.length)).status, 202);
    const digest = sha256(Buffer.concat([first, second]));
    const committed = await fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT', headers: { 'content-length': '0' } });
    assert.equal(committed.status, 201);
    const blob = await call(reg.url, 'GET', `/v2/frozen/upload/blobs/${digest}`);
    assert.equal(sha256(blob.body), digest);
  });

  it('sends a read once more when its S3 connection closes before the answer: the client gets the blob', { timeout: TEST_TIMEOUT_MS }, async () => {
    const data = randomBytes(4096);
    const digest = await pushBlob(reg.url, 'frozen/retry', data);
    relay.freeze();
    const pending = call(reg.url, 'GET', `/v2/frozen/retry/blobs/${digest}`);
    try {
      // Wait (no time limit but the test's) until a request of the GET reached the frozen relay.
      while (relay.heldFromClients() === 0) await sleep(20);
      relay.cut();
    } finally {
      relay.thaw();
    }
    const got = await pending;
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), digest);
  });
});
