// Requests the proxy must answer itself, and clients that must not cost a backend anything: bad
// request targets, header floods, trickled headers, connection floods, bodies cut short, and a
// process that runs out of descriptors. Two built-in registries behind one proxy; the hostile
// bytes go through a raw TCP client.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertNoBackendCharged, chargesOf } from '../helpers/backend-charges.js';
import { startProxiedRegistries, type ProxiedRegistries } from '../helpers/proxied-registries.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { headerFlood, openSocket, rawExchange, readUntilClosed, trickleHeaders } from '../helpers/raw-tcp.js';
import { pushBlob } from '../helpers/registry-process.js';

describe('proxy hardening: what a client sends never counts against a backend', { timeout: 180_000 }, () => {
  const names = ['r1', 'r2'] as const;
  let set: ProxiedRegistries;
  let proxy: ProxyProcess;

  before(async () => {
    set = await startProxiedRegistries(names, { healthCheck: { errorLimit: 3 }, timeouts: { headersMs: 1000 }, maxConnections: 40 });
    proxy = set.proxy;
  });

  after(async () => {
    await set?.stop();
  });

  it('answers targets it cannot forward with 400 itself, and no backend is charged', async () => {
    const before = await chargesOf(proxy, names);
    // Twice each: on an unguarded proxy three were enough to take both backends DOWN.
    for (let round = 0; round < 2; round++) {
      for (const line of ['OPTIONS *', 'GET ftp://x/', 'GET *x', 'GET x/v2/', 'GET http://user@host/v2/']) {
        const reply = await rawExchange(proxy.port, `${line} HTTP/1.1\r\nHost: x\r\n\r\n`);
        // Node's parser refuses some itself (`x/v2/`: 400 with no body); the rest get the OCI envelope.
        assert.equal(reply.status, 400, `${line}: ${reply.text}`);
        if (line !== 'GET x/v2/') assert.match(reply.text, /"code":"UNSUPPORTED"/);
        assert.ok(reply.closed, `${line}: the connection is closed`);
      }
    }
    await assertNoBackendCharged(proxy, names, before);
  });

  it('routes an absolute-form target as its origin form (push and pull through http://host/...)', async () => {
    const data = Buffer.from(`absolute form ${Date.now()}`);
    const digest = await pushBlob(proxy.url, 'hard/absolute', data);
    const authority = `127.0.0.1:${proxy.port}`;
    const reply = await rawExchange(proxy.port, `GET http://${authority}/v2/hard/absolute/blobs/${digest} HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n`);
    assert.equal(reply.status, 200, reply.text);
    assert.ok(reply.text.endsWith(data.toString()), reply.text);
    // An upload opened in absolute form gets the proxy's upload token: its Location routes back.
    const opened = await rawExchange(proxy.port, `POST http://${authority}/v2/hard/absolute/blobs/uploads/ HTTP/1.1\r\nHost: ignored\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(opened.status, 202, opened.text);
    const location = /\r\nlocation: ([^\r]+)/i.exec(opened.text)?.[1] ?? '';
    assert.match(location, /[?&]_ha_upload=/, `Location carries the upload token: ${location}`);
  });

  it('refuses a request with more header lines than it keeps (431) instead of dropping Content-Length', async () => {
    // A PATCH whose Content-Length comes after 1,500 filler lines: Node would keep 2,000 lines at most.
    for (const filler of [1500, 2100]) {
      const request = headerFlood('PATCH /v2/hard/flood/blobs/uploads/x HTTP/1.1', filler, ['Content-Length: 5', 'Content-Type: application/octet-stream'], 'hello');
      const reply = await rawExchange(proxy.port, request);
      assert.equal(reply.status, 431, reply.text.slice(0, 300));
      assert.ok(reply.closed);
    }
    // One under the cap is forwarded whole.
    const ok = await rawExchange(proxy.port, headerFlood('GET /v2/ HTTP/1.1', 990, ['Connection: close']));
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
  });

  it('cuts a client that trickles its headers (timeouts.headersMs) with 408', async () => {
    const reply = await trickleHeaders(proxy.port, 100, 15_000);
    assert.ok(reply.closed, `still open after ${reply.elapsedMs} ms`);
    assert.equal(reply.status, 408, reply.text);
    const normal = await fetch(`${proxy.url}/v2/`);
    assert.equal(normal.status, 200);
  });

  it('closes new connections past maxConnections at once and serves again when they leave', async () => {
    const held = await Promise.all(Array.from({ length: 40 }, () => openSocket(proxy.port)));
    await sleep(100);
    const extra = await openSocket(proxy.port);
    const reply = await readUntilClosed(extra, 5000);
    extra.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(reply.closed, 'the 41st connection is closed');
    assert.equal(reply.status, 0);
    assert.ok((await proxy.metric('haproxy_frontend_dropped_connections_total')) >= 1);
    for (const socket of held) socket.destroy();
    await sleep(200);
    assert.equal((await fetch(`${proxy.url}/v2/`)).status, 200);
  });

  // Regression cover: Node destroys the socket of a request whose body ends early, so this is filed CLIENT_ABORTED.
  it('does not blame a backend for an upload the client cut short (half-close mid-body)', async () => {
    const before = await chargesOf(proxy, names);
    for (let i = 0; i < 5; i++) {
      const opened = await fetch(`${proxy.url}/v2/hard/short/blobs/uploads/`, { method: 'POST' });
      assert.equal(opened.status, 202);
      const location = new URL(opened.headers.get('location') ?? '', proxy.url);
      await rawExchange(proxy.port, `PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(100)}`, { end: true, deadlineMs: 5000 });
    }
    await assertNoBackendCharged(proxy, names, before);
  });

  it('names a broken backend by its label in the error body, never its address or parser codes', async () => {
    // Passes its health checks (GET /v2/), answers anything else with bytes that are not HTTP.
    const garbage: Server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString().startsWith('GET /v2/ ')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        else socket.end('NOT HTTP AT ALL\r\n\r\n');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const port = (garbage.address() as { port: number }).port;
    const broken = await startProxy({ mode: 'active-standby', backends: [{ url: `http://127.0.0.1:${port}` }], healthCheck: { errorLimit: 0 } });
    try {
      const res = await fetch(`${broken.url}/v2/x/manifests/latest`);
      const body = await res.text();
      assert.equal(res.status, 502, body);
      assert.match(body, /backend 1/);
      assert.doesNotMatch(body, /127\.0\.0\.1|HPE_|Expected|:\d{4,5}/);
    } finally {
      await broken.stop();
      garbage.close();
    }
    // Logs are complete once the process has exited.
    assert.match(broken.output(), /HPE_INVALID_CONSTANT/, 'the parser code is in the log');
  });
});

describe('proxy hardening: a process out of descriptors does not take its backends DOWN', { timeout: 120_000 }, () => {
  const names = ['f1', 'f2'] as const;
  let set: ProxiedRegistries;
  let proxy: ProxyProcess;

  before(async () => {
    // 96 descriptors, and a connection cap far above them: the clients below exhaust the
    // descriptors, so every health check fails with EMFILE while the backends are fine.
    set = await startProxiedRegistries(names, { maxConnections: 10_000, timeouts: { headersMs: 60_000 } }, { launcher: ['prlimit', '--nofile=96:96'] });
    proxy = set.proxy;
  });

  after(async () => {
    await set?.stop();
  });

  it('skips health checks that fail with EMFILE instead of counting them against the backend', async () => {
    const before = await chargesOf(proxy, names);
    const held = [];
    for (let i = 0; i < 150; i++) {
      const socket = await openSocket(proxy.port);
      socket.on('error', () => {});
      held.push(socket);
    }
    // Checks every 200 ms, fall 2: a second of EMFILE would have taken both DOWN.
    await sleep(1500);
    for (const socket of held) socket.destroy();
    await sleep(300);
    await assertNoBackendCharged(proxy, names, before);
    const skipped = await proxy.metric('haproxy_server_checks_total', `server="${names[0]}",result="skipped"`);
    assert.ok(skipped > 0, `checks were skipped (${skipped})`);
    await proxy.stop();
    assert.match(proxy.output(), /health check skipped/);
  });
});
