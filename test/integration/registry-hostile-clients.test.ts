// The built-in registry against clients that misbehave: oversized chunked manifests, header
// tricklers, too many connections, downloads that never read, chunks longer than their range.
// Each runs against a real registry process, which must answer and stay up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chunkedRequest, closed, residentBytes } from '../helpers/raw-client.js';
import { headerFlood, openSocket, rawExchange } from '../helpers/raw-tcp.js';
import { call, pushBlob, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';

const MANIFEST = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };

/** Resolves 'exited' if the process dies within `ms`, else 'alive'. */
async function survives(reg: RegistryProcess, ms: number): Promise<'alive' | 'exited'> {
  if (reg.child.exitCode !== null) return 'exited';
  const exited = new Promise<'exited'>((resolve) => reg.child.once('exit', () => resolve('exited')));
  return Promise.race([exited, sleep(ms).then(() => 'alive' as const)]);
}

describe('registry against hostile clients', () => {
  let reg: RegistryProcess;
  before(async () => {
    // Access logging on: the crash was in the access log's close handler.
    reg = await startRegistryProcess({ logLevel: 'info', registry: { timeouts: { headersMs: 1000 }, maxConnections: 40, uploads: { maxOpenPerClient: 3, maxOpenPerRepository: 5 } } });
  });
  after(async () => {
    await reg?.stop();
  });

  it('answers 413 to a chunked manifest PUT over maxManifestBytes and keeps running', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await chunkedRequest(reg.url, 'PUT', '/v2/a/manifests/x', 5_000_000, MANIFEST);
      assert.equal(res.status, 413);
      assert.equal(JSON.parse(res.body).errors[0].code, 'SIZE_INVALID');
    }
    // The crash came from the access log once the response closed, a moment after the answer.
    assert.equal(await survives(reg, 3000), 'alive', reg.output());
    assert.equal((await call(reg.url, 'GET', '/v2/')).status, 200);
  });

  it('refuses a request with more header lines than Node keeps (431) instead of losing its Content-Length', async () => {
    // 1,500 filler lines: Node kept Content-Length; 2,100: it dropped it, and the body would be
    // read as the next request. Either way the registry answers 431 and closes the connection.
    for (const filler of [1500, 2100]) {
      const request = headerFlood('PATCH /v2/a/blobs/uploads/x HTTP/1.1', filler, ['Content-Length: 5', 'Content-Type: application/octet-stream'], 'hello');
      const reply = await rawExchange(reg.port, request);
      assert.equal(reply.status, 431, reply.text.slice(0, 300));
      assert.ok(reply.closed, 'the registry kept the connection open after its 431');
      assert.doesNotMatch(reply.text, /HTTP\/1\.1 [0-9]{3}[\s\S]*HTTP\/1\.1 [0-9]{3}/, 'the body was answered as a request of its own');
    }
    const ok = await rawExchange(reg.port, headerFlood('GET /v2/ HTTP/1.1', 990, ['Connection: close']));
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
  });

  it('cuts a client that trickles its headers after registry.timeouts.headersMs', async () => {
    const socket = await openSocket(reg.port);
    const gone = closed(socket);
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
    // One header byte every 100 ms, for up to 10 s: far past the 1 s deadline, never a full header.
    let cut = false;
    void gone.then(() => (cut = true));
    for (let i = 0; i < 100 && !cut; i++) {
      socket.write('x');
      await sleep(100);
    }
    assert.equal(cut, true, 'the registry kept the trickling connection open');
    assert.match(answer, /^HTTP\/1\.1 408/);
    socket.destroy();
  });

  it('closes connections beyond registry.maxConnections on arrival and serves again once they go', async () => {
    const held = await Promise.all(Array.from({ length: 40 }, () => openSocket(reg.port)));
    await sleep(200);
    const extra = await openSocket(reg.port);
    extra.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
    let answered = false;
    extra.on('data', () => (answered = true));
    await closed(extra);
    assert.equal(answered, false, 'a connection beyond the cap was served');
    for (const s of held) s.destroy();
    await Promise.all(held.map(closed));
    await sleep(200);
    assert.equal((await call(reg.url, 'GET', '/v2/')).status, 200);
  });

  it('keeps memory per reader that stops reading far below two 2 MiB buffers', async () => {
    const blob = randomBytes(32 * 1024 * 1024);
    const digest = await pushBlob(reg.url, 'big', blob);
    // Warm the download path once so its code and pools are in the baseline.
    assert.equal((await call(reg.url, 'GET', `/v2/big/blobs/${digest}`)).body.length, blob.length);
    const pid = reg.child.pid as number;
    const readers = 30;
    const before = residentBytes(pid);
    const sockets = await Promise.all(
      Array.from({ length: readers }, async () => {
        const s = await openSocket(reg.port);
        const first = new Promise<void>((resolve) =>
          s.once('data', () => {
            // Read the first bytes (the download has started), then never read again.
            s.pause();
            resolve();
          }),
        );
        s.write(`GET /v2/big/blobs/${digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await first;
        return s;
      }),
    );
    // Let every copy run until its client's socket buffers are full.
    await sleep(1500);
    const grown = residentBytes(pid) - before;
    for (const s of sockets) s.destroy();
    console.log(`stalled readers: ${readers}, resident growth ${Math.round(grown / 1048576)} MiB`);
    // Two 2 MiB buffers per reader was the old cost (~120 MiB here); now two 64 KiB buffers per
    // reader plus a 32 MiB process-wide allowance of large buffers.
    assert.ok(grown < readers * 2 * 1024 * 1024, `resident memory grew ${Math.round(grown / 1048576)} MiB for ${readers} stalled readers`);
    assert.equal((await call(reg.url, 'GET', '/v2/')).status, 200);
  });

  it('refuses a chunked PATCH longer than its Content-Range and keeps nothing of it', async () => {
    const start = await call(reg.url, 'POST', '/v2/over/blobs/uploads/');
    assert.equal(start.status, 202);
    const location = start.headers.get('location') as string;
    const id = start.headers.get('docker-upload-uuid') as string;
    const res = await chunkedRequest(reg.url, 'PATCH', location, 5000, { 'content-range': '0-999', 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body).errors[0].code, 'SIZE_INVALID');
    const status = await call(reg.url, 'GET', location);
    assert.equal(status.headers.get('range'), '0-0');
    const data = join(reg.storage, 'repositories', 'over', '_uploads', id, 'data');
    assert.equal(statSync(data, { throwIfNoEntry: false })?.size ?? 0, 0);
    const ok = await chunkedRequest(reg.url, 'PATCH', location, 1000, { 'content-range': '0-999', 'content-type': 'application/octet-stream' });
    assert.equal(ok.status, 202);
    assert.equal(ok.headers.range, '0-999');
  });

  it('caps open upload sessions per client address and per repository with 429', async () => {
    // From loopback the registry believes X-Forwarded-For (the proxy's), so these are two clients.
    const open = (client: string) => call(reg.url, 'POST', '/v2/caps/blobs/uploads/', { headers: { 'x-forwarded-for': client } });
    const a = [];
    for (let i = 0; i < 3; i++) a.push(await open('10.0.0.1'));
    assert.deepEqual(a.map((r) => r.status), [202, 202, 202]);
    const fourth = await open('10.0.0.1');
    assert.equal(fourth.status, 429);
    assert.equal(fourth.code(), 'TOO_MANY_REQUESTS');
    assert.ok(Number(fourth.headers.get('retry-after')) > 0);
    assert.deepEqual([(await open('10.0.0.2')).status, (await open('10.0.0.2')).status], [202, 202]);
    assert.equal((await open('10.0.0.2')).status, 429, 'the repository holds 5 open sessions');
    assert.equal((await call(reg.url, 'DELETE', a[0].headers.get('location') as string)).status, 204);
    assert.equal((await open('10.0.0.2')).status, 202, 'a cancelled session frees its place');
  });

  it('keeps counting a session whose commit named a malformed digest: it is still open', async () => {
    // A refused ?digest= used to count the session as closed although storage kept it, so a
    // client could hold more open sessions than maxOpenPerClient by committing with bad digests.
    const open = () => call(reg.url, 'POST', '/v2/badcommit/blobs/uploads/', { headers: { 'x-forwarded-for': '10.0.0.3' } });
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await open());
    assert.deepEqual(sessions.map((r) => r.status), [202, 202, 202]);
    const location = sessions[0].headers.get('location') as string;
    const refused = await call(reg.url, 'PUT', `${location}?digest=sha256:short`, { headers: { 'x-forwarded-for': '10.0.0.3' } });
    assert.equal(refused.code(), 'DIGEST_INVALID');
    assert.equal((await call(reg.url, 'GET', location)).status, 204, 'the session is still there');
    assert.equal((await open()).status, 429, 'and still counts against the client');
  });
});
