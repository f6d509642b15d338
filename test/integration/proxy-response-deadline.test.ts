// timeouts.responseHeadersMs counts from the request, or from the last chunk of its body the
// backend took, to the response headers (the README's table of faults: a backend that freezes
// while an upload is being sent). These pin both sides of that: an upload the backend stops
// reading is answered 504 long before idleMs, and an upload that keeps moving is never cut,
// however long it takes in all.
import assert from 'node:assert/strict';
import { createServer, request, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

const servers: Server[] = [];
const proxies: ProxyProcess[] = [];
after(async () => {
  for (const p of proxies) await p.stop();
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

async function backendThen(onUpload: RequestListener): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    onUpload(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// idleMs far beyond the test's own timeout: only the response-headers deadline can answer in time.
const TIMEOUTS = { responseHeadersMs: 1000, idleMs: 600_000 };

async function proxyTo(url: string): Promise<ProxyProcess> {
  const proxy = await startProxy({ mode: 'active-standby', backends: [{ url }], timeouts: TIMEOUTS, healthCheck: { errorLimit: 0 } });
  proxies.push(proxy);
  return proxy;
}

/** PUTs `chunks` chunks of 64 KiB, `gapMs` apart; resolves with the status and body of the answer. */
function upload(url: string, chunks: number, gapMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const piece = Buffer.alloc(64 * 1024, 7);
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunks * piece.length) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The proxy may answer and close while the body is still going out.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    let answered = false;
    req.on('response', () => (answered = true));
    void (async () => {
      for (let i = 0; i < chunks && !answered && !req.destroyed; i++) {
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
        if (gapMs > 0) await sleep(gapMs);
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

describe('the response-headers deadline (responseHeadersMs) of an upload', () => {
  it('answers 504 when the backend stops reading the body, long before idleMs', { timeout: 30_000 }, async () => {
    const url = await backendThen((req) => req.pause());
    const proxy = await proxyTo(url);
    // 64 MiB: more than the sockets' buffers between the proxy and the backend can hold.
    const reply = await upload(`${proxy.url}/v2/stalled/manifests/latest`, 1024, 0);
    assert.equal(reply.status, 504, reply.body);
    assert.match(reply.body, /did not respond in time/);
    assert.equal(await proxy.metric('haproxy_server_failures_total', 'cause="RESPONSE_TIMEOUT"'), 1);
  });

  it('never cuts an upload whose chunks keep reaching the backend, though it lasts longer than the deadline', { timeout: 30_000 }, async () => {
    let received = 0;
    const url = await backendThen((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.writeHead(201, { 'content-type': 'text/plain' }).end(String(received)));
    });
    const proxy = await proxyTo(url);
    // 12 chunks 250 ms apart: 3 s in all, three times the deadline, each gap a quarter of it.
    const reply = await upload(`${proxy.url}/v2/trickle/manifests/latest`, 12, 250);
    assert.equal(reply.status, 201, reply.body);
    assert.equal(reply.body, String(12 * 64 * 1024));
    assert.equal(await proxy.metric('haproxy_server_failures_total', 'cause="RESPONSE_TIMEOUT"'), 0);
  });
});
