// The command line of the proxy modes, as a user runs it: help, version, bad input exiting 2
// with `path: reason` before anything listens, flags overriding the file, a busy port.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { CLI, REPO_ROOT, startHaProxy, waitForHttp } from '../helpers/processes.js';

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('ha-proxy command line (proxy modes)', () => {
  it('prints help and the version', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--backend URL/);
    assert.match(help.stdout, /--failback POLICY/);
    const version = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), `ha-proxy ${pkg.version}`);
  });

  it('exits 2 with path: reason for a port past 65535 or a duration past the longest timer', async () => {
    const result = await runCli(['--mode', 'registry', '--storage', mkdtempSync(join(tmpdir(), 'cli-range-')), '--listen', '127.0.0.1:99999']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^  listen: must be HOST:PORT with a port from 0 to 65535/m);
    assert.doesNotMatch(result.stderr, /RangeError/);
    const file = join(mkdtempSync(join(tmpdir(), 'cli-range-')), 'c.json');
    writeFileSync(file, JSON.stringify({ mode: 'active-standby', backends: [{ url: 'http://127.0.0.1:1' }], healthCheck: { intervalMs: 3_000_000_000 } }));
    const long = await runCli(['--config', file]);
    assert.equal(long.code, 2, long.stderr);
    assert.match(long.stderr, /healthCheck\.intervalMs: must be <= 2147483647/);
  });

  it('reports every configuration problem as path: reason and exits 2 before listening', async () => {
    const port = await freePort();
    const result = await runCli(['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--backend', 'http://127.0.0.1:1', '--backend', 'ftp://nope', '--retries', 'many', '--failback', 'later']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /backends\[1\]\.url: must be an http\(s\) URL/);
    assert.match(result.stderr, /retries: must be integer/);
    assert.match(result.stderr, /failback\.mode: must be one of auto, manual/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'nothing listened');
  });

  it('exits 2 on an unknown flag, with the usage', async () => {
    const result = await runCli(['--mode', 'active-active', '--backnd', 'http://x:1']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown option '--backnd'/);
    assert.match(result.stderr, /Usage: ha-proxy/);
  });

  it('exits 1 with a clear message when the port is taken', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      const result = await runCli(['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--backend', 'http://127.0.0.1:1', '--log-level', 'silent', '--workers', '1']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cannot listen on listen 127\.0\.0\.1:\d+: address already in use \(EADDRINUSE\)/);
    } finally {
      busy.close();
    }
  });

  it('lets flags override the config file', async () => {
    const fromFile = createServer((_req, res) => res.end('file'));
    const fromFlag = createServer((_req, res) => res.end('flag'));
    await new Promise<void>((resolve) => fromFile.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => fromFlag.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    const file = join(mkdtempSync(join(tmpdir(), 'ha-proxy-cli-')), 'proxy.yaml');
    writeFileSync(file, [
      'mode: active-standby',
      'workers: 1',
      `adminListen: 127.0.0.1:${await freePort()}`,
      'backends:',
      `  - url: http://127.0.0.1:${(fromFile.address() as AddressInfo).port}`,
      '',
    ].join('\n'));
    const proc = startHaProxy(['--config', file, '--listen', `127.0.0.1:${port}`, '--backend', `http://127.0.0.1:${(fromFlag.address() as AddressInfo).port}`]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc, statuses: [200] });
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/other`)).text(), 'flag');
    } finally {
      assert.equal(await proc.stop('SIGINT'), 0, 'SIGINT drains and exits 0');
      fromFile.close();
      fromFlag.close();
    }
  });
});
