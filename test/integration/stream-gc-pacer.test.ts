// The stream pacer runs in the real processes: a proxy moving a blob down and up, and a built-in
// registry taking a push, collect their young generation every HA_PROXY_STREAM_GC_MIB MiB. V8's
// own trace (`node --trace-gc`) tells those collections apart: a requested one is a Scavenge
// whose reason is "testing". With the pacing off there are none.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { CLI, startProcess, waitForHttp } from '../helpers/processes.js';

const MIB = 1024 * 1024;
const BODY_MIB = 32;
const CHUNK = randomBytes(MIB);

const requested = (trace: string): number => trace.split('\n').filter((line) => line.includes('Scavenge') && line.includes('testing')).length;

let backend: Server | undefined;
after(() => backend?.close());

/** A backend that sends BODY_MIB MiB on GET and counts what a PATCH sends. */
async function startBackend(): Promise<string> {
  backend = createServer((req, res) => {
    if (req.url === '/v2/') return void res.end('{}');
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY_MIB * MIB) });
      let sent = 0;
      const pump = (): void => {
        while (sent < BODY_MIB) {
          sent++;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    let received = 0;
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    req.on('end', () => res.writeHead(202, { 'content-type': 'text/plain' }).end(String(received)));
  });
  await new Promise<void>((resolve) => backend!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
}

function send(url: string, method: string, body?: Buffer[]): Promise<{ status: number; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let bytes = 0;
      let text = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (text.length < 1000) text += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const chunk of body ?? []) req.write(chunk);
    req.end();
  });
}

/** Requested collections in the trace of a process started with `args` and `env`, after `work`. */
async function collectionsDuring(args: string[], env: Record<string, string>, work: (url: string) => Promise<void>): Promise<number> {
  const port = await freePort();
  const proc = startProcess(process.execPath, ['--trace-gc', CLI, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/v2/`, { proc, statuses: [200] });
    await work(url);
  } finally {
    await proc.stop();
  }
  // V8 writes its trace through C stdio, which buffers it in the pipe until the process exits.
  return requested(proc.output());
}

const download = async (url: string): Promise<void> => {
  const got = await send(`${url}/v2/big/blobs/sha256:generated`, 'GET');
  assert.equal(got.bytes, BODY_MIB * MIB, 'the whole body came through');
};

const upload = async (url: string): Promise<void> => {
  const put = await send(`${url}/v2/big/blobs/uploads/u1`, 'PATCH', Array.from({ length: BODY_MIB }, () => CHUNK));
  assert.equal(put.status, 202);
  assert.equal(put.text, String(BODY_MIB * MIB), 'the whole upload reached the backend');
};

// 32 MiB at a collection every 4 MiB: 8, less one a last partial step or chunk boundary may miss.
const AT_LEAST = BODY_MIB / 4 - 1;

describe('stream gc pacer', () => {
  it('a proxy collects every 4 MiB of a download and of an upload; none with HA_PROXY_STREAM_GC_MIB=0', { timeout: 120_000 }, async () => {
    const backendUrl = await startBackend();
    const proxy = ['--mode', 'active-standby', '--workers', '1', '--backend', backendUrl];
    const down = await collectionsDuring(proxy, { HA_PROXY_STREAM_GC_MIB: '4' }, download);
    assert.ok(down >= AT_LEAST, `requested collections during the download: ${down}`);
    const up = await collectionsDuring(proxy, { HA_PROXY_STREAM_GC_MIB: '4' }, upload);
    assert.ok(up >= AT_LEAST, `requested collections during the upload: ${up}`);
    const off = await collectionsDuring(proxy, { HA_PROXY_STREAM_GC_MIB: '0' }, async (url) => {
      await download(url);
      await upload(url);
    });
    assert.equal(off, 0);
  });

  it('a built-in registry collects every 4 MiB of a push', { timeout: 120_000 }, async () => {
    const storage = mkdtempSync(join(tmpdir(), 'ha-pacer-'));
    const blob = Buffer.concat(Array.from({ length: BODY_MIB }, () => CHUNK));
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const pushed = await collectionsDuring(['--mode', 'registry', '--storage', storage], {}, async (url) => {
      const res = await send(`${url}/v2/pacer/blobs/uploads/?digest=${digest}`, 'POST', [blob]);
      assert.equal(res.status, 201, res.text);
    });
    assert.ok(pushed >= AT_LEAST, `requested collections during the push: ${pushed}`);
  });
});

it('a bad HA_PROXY_STREAM_GC_MIB stops the process at start-up with a clear message', { timeout: 30_000 }, async () => {
  const proc = startProcess(process.execPath, [CLI, '--mode', 'registry', '--listen', `127.0.0.1:${await freePort()}`, '--storage', mkdtempSync(join(tmpdir(), 'ha-pacer-'))], {
    env: { ...process.env, HA_PROXY_STREAM_GC_MIB: 'lots' },
  });
  const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
  assert.equal(code, 2, 'the exit code of a configuration error');
  assert.match(proc.output(), /HA_PROXY_STREAM_GC_MIB must be a number of MiB \(0 for off\), not "lots"/);
});
