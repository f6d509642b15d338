// Hitless config reload (SIGHUP and POST /reload) against real processes: built-in registries on
// one storage directory (so every backend serves the same images), the proxy rewritten in place.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasManifest, PushClient, pushImage as pushChunked } from '../helpers/chunked-push.js';
import { freePort } from '../helpers/ports.js';
import { CLI } from '../helpers/processes.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { sha256 } from '../helpers/oci-layout.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { pushBlob, pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { toolPath } from '../helpers/tools.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const run = promisify(execFile);
const secret = (): string => randomBytes(24).toString('base64url');

type Status = Awaited<ReturnType<ProxyProcess['status']>>;
const namesOf = (s: Status): string => s.backends.map((b) => b.name).join(',');

/** POST /reload with the token; the parsed answer. */
async function postReload(proxy: ProxyProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await proxy.adminPost('/reload');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Pulls the manifest and its config blob in a loop until stopped; every answer that is not 200 is kept. */
function pullLoop(base: string, repo: string, configDigest: string): { stop: () => Promise<{ requests: number; failures: string[] }> } {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const one = async (path: string, headers: Record<string, string> = {}): Promise<void> => {
    requests++;
    try {
      const res = await fetch(`${base}${path}`, { headers });
      const body = await res.text();
      if (res.status !== 200) failures.push(`${path}: ${res.status} ${body.slice(0, 200)}`);
    } catch (err) {
      failures.push(`${path}: ${String(err)}`);
    }
  };
  const loop = async (): Promise<void> => {
    while (running) {
      await one(`/v2/${repo}/manifests/latest`, { accept: MANIFEST });
      await one(`/v2/${repo}/blobs/${configDigest}`);
    }
  };
  const loops = [loop(), loop(), loop()];
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { requests, failures };
    },
  };
}

describe('config reload', () => {
  let storage: string;
  let registries: RegistryProcess[] = [];
  let proxy: ProxyProcess;
  let configDigest: string;
  const first = secret();
  const second = secret();
  const backend = (name: string, i: number, weight = 1) => ({ name, url: registries[i].url, weight });
  const base = (backends: object[], routing: object = { secret: first }): Record<string, unknown> => ({ mode: 'active-active', backends, routing });

  before(async () => {
    storage = mkdtempSync(join(tmpdir(), 'ha-reload-'));
    registries = await Promise.all([0, 1, 2].map(() => startRegistryProcess({ storage })));
    configDigest = (await pushImage(registries[0].url, 'reload/app', 'latest')).configDigest;
    proxy = await startProxy(base([backend('a', 0), backend('b', 1)]));
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both backends up');
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(registries.map((r) => r.stop()));
  });

  it('a pull loop sees no failed request across five reloads (add, remove, weights, secret rotation); UP backends stay UP', async () => {
    const pulls = pullLoop(proxy.url, 'reload/app', configDigest);
    const steps: { config: Record<string, unknown>; expect: (s: Status) => boolean; what: string; via: 'sighup' | 'post' }[] = [
      { config: base([backend('a', 0), backend('b', 1), backend('c', 2)]), expect: (s) => namesOf(s) === 'a,b,c', what: 'c added', via: 'sighup' },
      { config: base([backend('b', 1), backend('c', 2)]), expect: (s) => namesOf(s) === 'b,c', what: 'a removed', via: 'post' },
      { config: base([backend('b', 1, 5), backend('c', 2, 2)]), expect: (s) => s.backends.map((b) => (b as { weight?: number }).weight).join() === '5,2', what: 'weights 5,2', via: 'sighup' },
      { config: base([backend('b', 1, 5), backend('c', 2, 2)], { secret: second, previousSecrets: [first] }), expect: () => true, what: 'secret rotated', via: 'post' },
      { config: base([backend('a', 0), backend('b', 1, 5), backend('c', 2, 2)], { secret: second, previousSecrets: [first] }), expect: (s) => namesOf(s) === 'a,b,c', what: 'a back', via: 'sighup' },
    ];
    try {
      for (const step of steps) {
        // Traffic flows on the running config for a while before each change.
        await sleep(300);
        proxy.writeConfig(step.config);
        if (step.via === 'post') {
          const answer = await postReload(proxy);
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          assert.equal(answer.body.applied, true);
          assert.ok((answer.body.changes as string[]).length > 0, `${step.what}: the answer names what changed: ${JSON.stringify(answer.body)}`);
        } else {
          proxy.child.kill('SIGHUP');
        }
        await proxy.waitFor(step.expect, step.what);
      }
      await sleep(300);
    } finally {
      const result = await pulls.stop();
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.requests} requests failed`);
      assert.ok(result.requests > 50, `the loop ran (${result.requests} requests)`);
    }
    // Health carried over: b was never marked DOWN by a reload, and every backend is UP now.
    assert.equal(await proxy.metric('haproxy_server_check_up_down_total', 'server="b"'), 0);
    const status = await proxy.status();
    assert.ok(status.backends.every((b) => b.up), JSON.stringify(status));
    assert.doesNotMatch(proxy.output(), /is DOWN/);
    assert.match(proxy.output(), /config reloaded/);
  });

  it('health and admin states carry over: a DOWN backend stays DOWN (no new transition), a drained one stays drained', async () => {
    const dead = { name: 'd', url: `http://127.0.0.1:${await freePort()}`, weight: 1 };
    proxy.writeConfig(base([backend('a', 0), backend('b', 1), dead]));
    assert.equal((await postReload(proxy)).status, 200);
    await proxy.waitFor((s) => s.backends.find((b) => b.name === 'd')?.up === false, 'd DOWN');
    const drained = await fetch(`${proxy.adminUrl}/backends/b/state?state=drain`, { method: 'POST', headers: { authorization: `Bearer ${proxy.adminToken}` } });
    assert.equal(drained.status, 200, await drained.text());
    const downs = await proxy.metric('haproxy_server_check_up_down_total', 'server="d"');
    assert.equal(downs, 1);
    proxy.writeConfig(base([backend('a', 0, 4), backend('c', 2), backend('b', 1), dead]));
    assert.equal((await postReload(proxy)).status, 200);
    // Several check intervals: a backend that came back UP on probation would go DOWN again here.
    await sleep(1500);
    const status = (await proxy.status()) as unknown as { backends: { name: string; up: boolean; admin?: string }[] };
    assert.equal(status.backends.map((b) => b.name).join(), 'a,c,b,d');
    assert.equal(status.backends.find((b) => b.name === 'd')?.up, false);
    assert.equal(status.backends.find((b) => b.name === 'b')?.admin, 'drain');
    assert.equal(await proxy.metric('haproxy_server_check_up_down_total', 'server="d"'), downs);
    const ready = await fetch(`${proxy.adminUrl}/backends/b/state?state=ready`, { method: 'POST', headers: { authorization: `Bearer ${proxy.adminToken}` } });
    assert.equal(ready.status, 200);
  });

  it('a download in flight on a backend that a reload removes finishes on it', async () => {
    const blob = randomBytes(8 * 1024 * 1024);
    const digest = await pushBlob(registries[0].url, 'slow/big', blob);
    proxy.writeConfig(base([backend('a', 0), backend('b', 1)], { secret: first, routes: [{ repositories: ['slow/**'], backends: ['a'] }] }));
    assert.equal((await postReload(proxy)).status, 200);
    await proxy.waitFor((s) => namesOf(s) === 'a,b' && s.backends.every((x) => x.up), 'a,b up');
    const download = await startHeldDownload(`${proxy.url}/v2/slow/big/blobs/${digest}`);
    proxy.writeConfig(base([backend('b', 1), backend('c', 2)]));
    const answer = await postReload(proxy);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.ok((answer.body.changes as string[]).includes('backends: removed a'), JSON.stringify(answer.body));
    // The rest comes from a, over the pool the old data plane still holds.
    await sleep(500);
    const result = await download.resume();
    assert.equal(result.status, 200);
    assert.equal(result.body.length, blob.length);
    assert.equal(sha256(result.body), digest);
  });

  it('a chunked push spanning reloads (secret rotation, backend added, weights) completes', async () => {
    const a = secret();
    const b = secret();
    proxy.writeConfig(base([backend('a', 0), backend('b', 1)], { secret: a }));
    assert.equal((await postReload(proxy)).status, 200);
    await proxy.waitFor((s) => namesOf(s) === 'a,b' && s.backends.every((x) => x.up), 'a,b up');
    const reloads: string[] = [];
    const client = new PushClient({
      base: () => proxy.url,
      between: async (step) => {
        // Only during the first (layer) upload; the config blob's upload follows on the result.
        if (reloads.includes(step)) return;
        // The upload token from POST was signed with `a`; `b` becomes current, `a` stays accepted.
        if (step === 'patch-1') proxy.writeConfig(base([backend('a', 0), backend('b', 1), backend('c', 2)], { secret: b, previousSecrets: [a] }));
        else if (step === 'patch-2') proxy.writeConfig(base([backend('a', 0, 3), backend('b', 1, 3), backend('c', 2)], { secret: b, previousSecrets: [a] }));
        else return;
        const answer = await postReload(proxy);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        reloads.push(step);
      },
    });
    const image = await pushChunked(client, 'reload/pushed', 'v1', { layerBytes: 48 * 1024, chunkBytes: 16 * 1024 });
    assert.deepEqual(reloads, ['patch-1', 'patch-2']);
    assert.ok(await hasManifest(registries[0].url, image.repository, image.tag));
  });

  it('an invalid config is refused with every problem logged; the running config stays', async () => {
    const before = await proxy.status();
    proxy.writeConfig({ mode: 'active-active', backends: [{ name: 'a', url: 'not a url' }, { name: 'b', url: registries[1].url, weight: 999 }], retries: 99, routing: { secret: first } });
    const answer = await postReload(proxy);
    assert.equal(answer.status, 422);
    assert.equal(answer.body.applied, false);
    const problems = answer.body.problems as string[];
    for (const path of ['backends[0].url', 'backends[1].weight', 'retries']) {
      assert.ok(problems.some((p) => p.startsWith(path)), `${path} in ${JSON.stringify(problems)}`);
    }
    proxy.child.kill('SIGHUP');
    // The SIGHUP's refusal is logged with the same problems (a second log line).
    const deadline = Date.now() + 10_000;
    while ((proxy.output().match(/config reload refused/g) ?? []).length < 2 && Date.now() < deadline) await sleep(50);
    const refusals = proxy.output().split('\n').filter((line) => line.includes('config reload refused'));
    assert.equal(refusals.length, 2, proxy.output().slice(-3000));
    for (const path of ['backends[0].url', 'backends[1].weight', 'retries']) assert.ok(refusals[1].includes(path), refusals[1]);
    assert.equal(namesOf(await proxy.status()), namesOf(before));
    const res = await fetch(`${proxy.url}/v2/reload/app/blobs/${configDigest}`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
  });

  it('ha-proxy ctl reload prints what changed, or every problem of a refused file (exit 1)', async () => {
    const tokenFile = join(dirname(proxy.configFile), 'admin-token');
    const ctl = (args: string[]) =>
      run(process.execPath, [CLI, 'ctl', 'reload', '--admin', proxy.adminUrl, '--token-file', tokenFile, ...args]).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
    proxy.writeConfig(base([backend('a', 0), backend('b', 1)]));
    assert.equal((await postReload(proxy)).status, 200);
    proxy.writeConfig(base([backend('a', 0), backend('b', 1), backend('c', 2)]));
    const applied = await ctl([]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^config reloaded\n {2}changed: .*backends: added c/);
    proxy.writeConfig({ mode: 'active-active', backends: [{ url: 'ftp://x' }], retries: -1 });
    const refused = await ctl([]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the config was not applied:\n {2}/);
    assert.match(refused.stderr, /\n {2}backends\[0\]\.url: /);
    assert.match(refused.stderr, /\n {2}retries: /);
    assert.equal(namesOf(await proxy.status()), 'a,b,c');
  });

  it('POST /reload needs the admin token', async () => {
    proxy.writeConfig(base([backend('c', 2)]));
    const without = await fetch(`${proxy.adminUrl}/reload`, { method: 'POST' });
    await without.arrayBuffer();
    assert.ok(without.status === 401 || without.status === 403, `status ${without.status}`);
    const wrong = await fetch(`${proxy.adminUrl}/reload`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    await wrong.arrayBuffer();
    assert.ok(wrong.status === 401 || wrong.status === 403, `status ${wrong.status}`);
    assert.notEqual(namesOf(await proxy.status()), 'c', 'nothing was reloaded');
  });

  it('names settings that need a restart in a warning and keeps their running value', async () => {
    const other = await freePort();
    proxy.writeConfig({ ...base([backend('a', 0), backend('b', 1)]), listen: `127.0.0.1:${other}` });
    const answer = await postReload(proxy);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.restartNeeded, ['listen']);
    const deadline = Date.now() + 10_000;
    while (!/keep their running value until a restart: listen/.test(proxy.output()) && Date.now() < deadline) await sleep(50);
    assert.match(proxy.output(), /keep their running value until a restart: listen/);
    const res = await fetch(`${proxy.url}/v2/`);
    await res.arrayBuffer();
    assert.equal(res.status, 200, 'still listening on the old address');
  });
});

/**
 * A GET whose reading stops after the first chunk (the transfer stays open, stalled on the
 * client's window) until `resume`, which reads the rest and resolves with the whole body.
 */
function startHeldDownload(url: string): Promise<{ resume: () => Promise<{ status: number; body: Buffer }> }> {
  return new Promise((resolveHeld, reject) => {
    const req = request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const ended = new Promise<{ status: number; body: Buffer }>((resolve, fail) => {
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', fail);
        res.on('aborted', () => fail(new Error('the download was cut')));
      });
      ended.catch(() => {});
      res.once('data', (first: Buffer) => {
        chunks.push(first);
        res.pause();
        res.on('data', (c: Buffer) => chunks.push(c));
        resolveHeld({
          resume: () => {
            res.resume();
            return ended;
          },
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A backend in the test process that answers every request with its name. */
async function namedBackend(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

/** GET on a fresh connection: node:cluster hands new connections to the workers in turn. */
function freshGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('config reload with --workers 2', () => {
  let one: { url: string; server: Server };
  let two: { url: string; server: Server };
  let proxy: ProxyProcess;

  before(async () => {
    one = await namedBackend('one');
    two = await namedBackend('two');
    proxy = await startProxy({ mode: 'active-active', workers: 2, backends: [{ name: 'one', url: one.url }], routing: { secret: secret() } });
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'one up');
  });

  after(async () => {
    await proxy?.stop();
    one?.server.close();
    two?.server.close();
  });

  it('every worker switches: after the reload each new connection reaches the new backend', async () => {
    const before = await Promise.all(Array.from({ length: 8 }, () => freshGet(`${proxy.url}/v2/x/y/manifests/z`)));
    assert.deepEqual(new Set(before), new Set(['200 one']));
    proxy.writeConfig({ mode: 'active-active', workers: 2, backends: [{ name: 'two', url: two.url }], routing: { secret: secret() } });
    const answer = await postReload(proxy);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.workers, { switched: 2, of: 2 });
    await proxy.waitFor((s) => namesOf(s) === 'two' && s.backends[0].up, 'two up');
    const afterwards = await Promise.all(Array.from({ length: 8 }, () => freshGet(`${proxy.url}/v2/x/y/manifests/z`)));
    assert.deepEqual(new Set(afterwards), new Set(['200 two']));
  });
});

describe('config reload with redis: admin states shared by name', { skip: toolPath('redis-server') ? false : 'redis-server is not installed' }, () => {
  let redis: RedisServer;
  const backends: { url: string; server: Server }[] = [];
  let first: ProxyProcess;
  let second: ProxyProcess;
  let config: (order: number[]) => Record<string, unknown>;

  before(async () => {
    redis = await startRedisServer();
    for (const name of ['a', 'b', 'c']) backends.push(await namedBackend(name));
    config = (order) => ({
      mode: 'active-active',
      backends: order.map((i) => ({ name: 'abc'[i], url: backends[i].url })),
      routing: { secret: 'a-shared-secret-of-enough-length-for-both' },
      redis: { url: redis.url, keyPrefix: `reload-${process.pid}:` },
    });
    first = await startProxy(config([0, 1]), { logLevel: 'warn' });
    second = await startProxy(config([0, 1]), { logLevel: 'warn' });
  });

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await redis?.stop();
    for (const b of backends) b.server.close();
  });

  it('after a reload that reorders and adds backends, a drain made on another proxy lands on the same name', async () => {
    const adminOf = async (proxy: ProxyProcess, name: string) =>
      ((await proxy.status()) as unknown as { backends: { name: string; admin: string }[] }).backends.find((b) => b.name === name)?.admin;
    // b moves from position 1 to 0; position 1 is now c.
    second.writeConfig(config([1, 2, 0]));
    const answer = await postReload(second);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const drained = await fetch(`${first.adminUrl}/backends/b/state?state=drain`, { method: 'POST', headers: { authorization: `Bearer ${first.adminToken}` } });
    assert.equal(drained.status, 200);
    const deadline = Date.now() + 10_000;
    while ((await adminOf(second, 'b')) !== 'drain' && Date.now() < deadline) await sleep(50);
    assert.equal(await adminOf(second, 'b'), 'drain');
    assert.equal(await adminOf(second, 'a'), 'ready');
    assert.equal(await adminOf(second, 'c'), 'ready');
  });
});
