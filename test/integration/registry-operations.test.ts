// Operating the built-in registry: admin endpoints, access log, delete switch, basic auth,
// start-up errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { startHaProxy } from '../helpers/processes.js';
import { openSocket, readUntilClosed } from '../helpers/raw-tcp.js';
import { call, pushImage, startRegistryProcess } from '../helpers/registry-process.js';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('registry operations', () => {
  it('serves /livez, /readyz and /metrics on the admin listener, and logs one access line per request', async () => {
    const reg = await startRegistryProcess({ logLevel: 'info' });
    try {
      assert.equal((await fetch(`${reg.adminUrl}/livez`)).status, 200);
      assert.equal((await fetch(`${reg.adminUrl}/readyz`)).status, 200);
      await pushImage(reg.url, 'ops/metrics', 'v1');
      await call(reg.url, 'GET', '/v2/ops/metrics/manifests/v1');
      const metrics = await (await fetch(`${reg.adminUrl}/metrics`)).text();
      assert.match(metrics, /haproxy_registry_http_requests_total\{route="manifest",method="GET",code="200"\} 1/);
      const received = /haproxy_registry_received_bytes_total\{route="manifest"\} (\d+)/.exec(metrics);
      assert.ok(received && Number(received[1]) > 0, 'manifest PUT bodies are counted');
      assert.match(metrics, /haproxy_registry_sent_bytes_total\{route="manifest"\} \d+/);
      assert.match(metrics, /haproxy_registry_http_request_duration_seconds_bucket\{le="600",route="manifest",method="PUT"\} 1/);
      // Storage that cannot be written makes the replica not ready.
      rmSync(join(reg.storage, '_tmp'), { recursive: true, force: true });
      writeFileSync(join(reg.storage, '_tmp'), 'not a directory');
      const notReady = await fetch(`${reg.adminUrl}/readyz`);
      assert.equal(notReady.status, 503);
      assert.match(await notReady.text(), /storage not writable/);
    } finally {
      await reg.stop();
    }
    const lines = reg.output().split('\n').filter((l) => l.includes('"msg":"request"'));
    const manifestGet = lines.map((l) => JSON.parse(l)).find((l) => l.method === 'GET' && l.url === '/v2/ops/metrics/manifests/v1');
    assert.ok(manifestGet, 'an access line for the manifest GET');
    assert.equal(manifestGet.status, 200);
    assert.equal(typeof manifestGet.ms, 'number');
  });

  it('refuses DELETE with 405 UNSUPPORTED unless registry.deleteEnabled is set', async () => {
    const reg = await startRegistryProcess();
    try {
      const image = await pushImage(reg.url, 'ops/nodelete', 'v1');
      for (const path of [`/v2/ops/nodelete/manifests/${image.digest}`, '/v2/ops/nodelete/manifests/v1', `/v2/ops/nodelete/blobs/${image.configDigest}`]) {
        const res = await call(reg.url, 'DELETE', path);
        assert.equal(res.status, 405, path);
        assert.equal(res.code(), 'UNSUPPORTED', path);
      }
      assert.equal((await call(reg.url, 'GET', '/v2/ops/nodelete/manifests/v1')).status, 200);
    } finally {
      await reg.stop();
    }
  });

  it('requires basic auth from an htpasswd file: 401 UNAUTHORIZED with a Basic challenge, then 200', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-registry-auth-'));
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, `# users\nalice:${bcrypt.hashSync('s3cret', 4).replace('$2b$', '$2y$')}\n`);
    const reg = await startRegistryProcess({ registry: { htpasswd } });
    try {
      for (const headers of [{}, basic('alice', 'wrong'), basic('bob', 's3cret'), { authorization: 'Bearer x' }]) {
        const res = await call(reg.url, 'GET', '/v2/', { headers });
        assert.equal(res.status, 401);
        assert.equal(res.code(), 'UNAUTHORIZED');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      }
      assert.equal((await call(reg.url, 'GET', '/v2/', { headers: basic('alice', 's3cret') })).status, 200);
      const res = await call(reg.url, 'POST', '/v2/ops/auth/blobs/uploads/', { headers: basic('alice', 's3cret') });
      assert.equal(res.status, 202);
      assert.equal((await call(reg.url, 'GET', '/v2/_catalog')).status, 401);
      // The admin listener stays open for health checks.
      assert.equal((await fetch(`${reg.adminUrl}/readyz`)).status, 200);
    } finally {
      await reg.stop();
    }
  });

  it('SIGTERM: gives a request in flight registry.drainTimeoutMs, then closes it and exits 0', async () => {
    const reg = await startRegistryProcess({ registry: { drainTimeoutMs: 200 } });
    const session = await call(reg.url, 'POST', '/v2/ops/drain/blobs/uploads/');
    assert.equal(session.status, 202);
    // A chunk whose body never ends: only the drain's end closes its connection.
    const stalled = request(`${reg.url}${session.headers.get('location')}`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' } });
    const cut = new Promise<string>((resolve) => {
      stalled.once('response', (res) => resolve(`answered ${res.statusCode}`));
      stalled.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    stalled.write('some bytes');
    await new Promise((resolve) => stalled.once('socket', (socket) => socket.once('connect', resolve)));
    assert.equal(await reg.stop('SIGTERM'), 0);
    assert.equal(await cut, 'ECONNRESET');
  });

  it('SIGTERM: an admin connection that never finishes its request does not hold the exit past the drain', async () => {
    const reg = await startRegistryProcess({ registry: { drainTimeoutMs: 200 } });
    // A scraper that stalls mid-request: its connection is not idle, so closing the listener waits on it.
    const socket = await openSocket(Number(new URL(reg.adminUrl).port));
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const closed = readUntilClosed(socket, 120_000);
    // Without the drain's end closing it, Node's 60 s header timeout would: past the helper's SIGKILL after 10 s.
    assert.equal(await reg.stop('SIGTERM'), 0);
    assert.ok((await closed).closed);
  });

  it('exits with code 2 and a clear message when registry mode has no storage', async () => {
    const proc = startHaProxy(['--mode', 'registry', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:1']);
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(proc.output(), /registry\.storage: required in registry mode/);
  });

  // A registry that starts anyway never exits: the timeout turns that into a failure.
  it('refuses to start (status 1, a clear message) on storage that is a file or read-only', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-bad-storage-'));
    const exitOf = async (storage: string) => {
      const proc = startHaProxy(['--mode', 'registry', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--storage', storage]);
      const code = await new Promise<number | null>((resolve) => proc.child.once('exit', resolve));
      return { code, output: proc.output() };
    };
    try {
      const file = join(dir, 'a-file');
      writeFileSync(file, 'x');
      const asFile = await exitOf(file);
      assert.equal(asFile.code, 1);
      assert.match(asFile.output, /registry\.storage: .*a-file is not a directory/);
      if (process.getuid?.() !== 0) {
        if (process.env.CI === 'true') assert.fail('the read-only case needs root in CI (it mounts a tmpfs)');
        return;
      }
      const readOnly = join(dir, 'ro');
      mkdirSync(readOnly);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]);
      try {
        const ro = await exitOf(readOnly);
        assert.equal(ro.code, 1);
        assert.match(ro.output, /registry\.storage: \S+ro: storage not writable/);
      } finally {
        execFileSync('umount', [readOnly]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
