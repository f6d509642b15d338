// A 1 GiB blob down and up through the proxy process while its resident memory is sampled:
// bodies stream with backpressure, so RSS stays flat instead of growing with the blob. The
// backend is a tiny local HTTP server generating the bytes (docker-registry would spend
// minutes writing 1 GiB to disk on these machines). The figure is reported, not timed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { startProxy } from '../helpers/proxy-process.js';

const GIB = 1024 * 1024 * 1024;
const CHUNK = randomBytes(1024 * 1024);
// A proxy that buffered a body would grow by about the body's size; streaming stays within
// socket and stream buffers. 96 MiB of headroom absorbs GC timing and allocator noise.
const MAX_GROWTH_BYTES = 96 * 1024 * 1024;

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Writes `total` bytes of CHUNK to `out`, honouring backpressure. */
function generate(out: NodeJS.WritableStream, total: number, done: () => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const piece = total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent);
      sent += piece.length;
      if (!out.write(piece)) {
        out.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

let server: Server | undefined;
after(() => server?.close());

it('streams a 1 GiB blob down and up through the proxy with flat RSS', { timeout: 300_000 }, async (t) => {
  server = createServer((req, res) => {
    if (req.url === '/v2/') {
      res.end('{}');
    } else if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(GIB) });
      generate(res, GIB, () => res.end());
    } else {
      let received = 0;
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => res.writeHead(201, { 'content-type': 'text/plain' }).end(String(received)));
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const proxy = await startProxy({ mode: 'active-standby', backends: [{ url: backendUrl }] }, { logLevel: 'warn' });
  t.after(() => proxy.stop());
  const pid = proxy.child.pid!;

  // Warm up (JIT, pools) before the baseline.
  await fetch(`${proxy.url}/v2/`).then((r) => r.arrayBuffer());
  const baseline = rssOf(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
  try {
    const downloaded = await new Promise<number>((resolve, reject) => {
      request(`${proxy.url}/v2/big/blobs/sha256:generated`, (res) => {
        let n = 0;
        res.on('data', (chunk: Buffer) => (n += chunk.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject).end();
    });
    assert.equal(downloaded, GIB, 'the whole blob came through');

    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = request(`${proxy.url}/v2/big/blobs/uploads/u1`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => (res.statusCode === 201 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
      });
      req.on('error', reject);
      generate(req, GIB, () => req.end());
    });
    assert.equal(Number(uploaded), GIB, 'the backend received the whole upload');
  } finally {
    clearInterval(sampler);
  }
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  t.diagnostic(`proxy RSS: baseline ${mib(baseline)} MiB, peak ${mib(peak)} MiB during 1 GiB down + 1 GiB up`);
  assert.ok(peak - baseline < MAX_GROWTH_BYTES, `RSS grew by ${mib(peak - baseline)} MiB`);
});
