// Runtime control through the admin API and `ha-proxy ctl`, against real processes: built-in
// replicas (replicating, as in active-standby deployments), the proxy, and redis-server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PushClient, pushImage } from '../helpers/chunked-push.js';
import { freePort } from '../helpers/ports.js';
import { CLI } from '../helpers/processes.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startReplicaSet, type Replica } from '../helpers/replicas.js';
import { toolPath } from '../helpers/tools.js';

const run = promisify(execFile);

interface BackendView {
  name: string;
  state: string;
  admin: string;
  weight: number;
  active: boolean;
  lastCheck?: { at: string };
}

async function backendsOf(proxy: ProxyProcess): Promise<BackendView[]> {
  return ((await (await fetch(`${proxy.adminUrl}/status`)).json()) as { backends: BackendView[] }).backends;
}

function setState(proxy: ProxyProcess, name: string, state: string, token = proxy.adminToken): Promise<Response> {
  return fetch(`${proxy.adminUrl}/backends/${name}/state`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ state }),
  });
}

async function ok(res: Promise<Response>): Promise<unknown> {
  const r = await res;
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

/** Responses the proxy got from one backend (its counter, summed over workers). */
async function served(proxy: ProxyProcess, name: string): Promise<number> {
  const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('haproxy_server_http_responses_total{') && line.includes(`server="${name}"`)) total += Number(line.split(' ').pop());
  return total;
}

/** The haproxy_server_status series of one backend: state -> value. */
async function serverStatus(proxy: ProxyProcess, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  const series: Record<string, number> = {};
  for (const m of text.matchAll(/^haproxy_server_status\{server="([^"]+)",state="([A-Z]+)"\} (\S+)$/gm)) if (m[1] === name) series[m[2]] = Number(m[3]);
  return series;
}

async function get(proxy: ProxyProcess, path: string): Promise<number> {
  const res = await fetch(`${proxy.url}${path}`);
  await res.arrayBuffer();
  return res.status;
}

async function ctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'ctl', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('admin control: drain, maint, weights and the token', { timeout: 180_000 }, () => {
  let replicas: Replica[] = [];
  let proxy: ProxyProcess;
  let tokenFile: string;

  before(async () => {
    replicas = await startReplicaSet(2);
    proxy = await startProxy({
      mode: 'active-standby',
      failback: { mode: 'auto', delayMs: 0 },
      backends: replicas.map((r, i) => ({ name: i === 0 ? 'a' : 'b', url: r.url })),
    });
    await proxy.waitFor((s) => s.backends.every((b) => b.up) && s.active === 'a', 'both backends up, a active');
    tokenFile = join(mkdtempSync(join(tmpdir(), 'ctl-')), 'token');
    writeFileSync(tokenFile, `${proxy.adminToken}\n`);
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('refuses state changes without the token (401) and changes nothing', async () => {
    const none = await fetch(`${proxy.adminUrl}/backends/a/state?state=drain`, { method: 'POST' });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await setState(proxy, 'a', 'maint', 'wrong-token-wrong-token')).status, 401);
    const weight = await fetch(`${proxy.adminUrl}/backends/a/weight?weight=5`, { method: 'POST' });
    assert.equal(weight.status, 401);
    const a = (await backendsOf(proxy))[0];
    assert.deepEqual([a.admin, a.weight, a.state], ['ready', 1, 'UP']);
  });

  it('refuses bad input with a 4xx naming the problem', async () => {
    const unknown = await setState(proxy, 'nope', 'drain');
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /no backend named "nope"; known: a, b/);
    const bad = await setState(proxy, 'a', 'sleep');
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /ready, drain, maint/);
    const weight = await fetch(`${proxy.adminUrl}/backends/a/weight`, { method: 'POST', headers: { authorization: `Bearer ${proxy.adminToken}` }, body: '{"weight":0}' });
    assert.equal(weight.status, 400);
    const get = await fetch(`${proxy.adminUrl}/backends/a/state`);
    assert.equal(get.status, 405);
  });

  it('a drain of the active backend during a chunked push: the push completes on it, the next push goes elsewhere', async () => {
    let drained = false;
    const client = new PushClient({
      base: () => proxy.url,
      between: async (step) => {
        if (step === 'patch-1' && !drained) {
          drained = true;
          await ok(setState(proxy, 'a', 'drain'));
        }
      },
    });
    await pushImage(client, 'drain/first', 'v1', { layerBytes: 64 * 1024, chunkBytes: 16 * 1024 });
    assert.ok(drained);
    const status = await proxy.status();
    assert.equal(status.active, 'b');
    assert.deepEqual((await backendsOf(proxy)).map((b) => b.state), ['DRAIN', 'UP']);
    assert.deepEqual(await serverStatus(proxy, 'a'), { DOWN: 0, UP: 0, MAINT: 0, DRAIN: 1 }, 'HAProxy\'s exporter series for a drained server');
    assert.deepEqual(await serverStatus(proxy, 'b'), { DOWN: 0, UP: 1, MAINT: 0, DRAIN: 0 });

    const before = await served(proxy, 'a');
    await pushImage(new PushClient({ base: () => proxy.url }), 'drain/second', 'v1', { layerBytes: 32 * 1024, chunkBytes: 8 * 1024 });
    assert.equal(await served(proxy, 'a'), before, 'nothing of the second push reached the drained backend');
  });

  it('maint stops all traffic to it while its checks go on; an open session on it must restart', async () => {
    await ok(setState(proxy, 'a', 'ready'));
    await proxy.waitFor((s) => s.active === 'a', 'a active again after ready (auto failback)');
    const location = await new PushClient({ base: () => proxy.url }).openUpload('maint/app');
    await ok(setState(proxy, 'a', 'maint'));
    const before = await served(proxy, 'a');
    for (let i = 0; i < 5; i++) assert.equal(await get(proxy, '/v2/'), 200);
    const chunk = await fetch(new URL(location, proxy.url), { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: 'abc' });
    assert.equal(chunk.status, 404);
    assert.match(await chunk.text(), /BLOB_UPLOAD_UNKNOWN.*maintenance/);
    assert.equal(await served(proxy, 'a'), before, 'no request reached the backend in maintenance');
    const checked = (await backendsOf(proxy))[0].lastCheck!.at;
    const deadline = Date.now() + 10_000;
    while ((await backendsOf(proxy))[0].lastCheck!.at === checked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const a = (await backendsOf(proxy))[0];
    assert.notEqual(a.lastCheck!.at, checked, 'health checks go on in maintenance');
    assert.equal(a.state, 'MAINT');
    assert.deepEqual(await serverStatus(proxy, 'a'), { DOWN: 0, UP: 0, MAINT: 1, DRAIN: 0 });
  });

  it('/readyz is not ready while every healthy backend is drained or in maintenance', async () => {
    await ok(setState(proxy, 'b', 'drain'));
    const res = await fetch(`${proxy.adminUrl}/readyz`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /drained or in maintenance/);
    await ok(setState(proxy, 'a', 'ready'));
    await ok(setState(proxy, 'b', 'ready'));
    assert.equal((await fetch(`${proxy.adminUrl}/readyz`)).status, 200);
  });

  it('ha-proxy ctl: status, drain, ready, maint, weight, failback; clear failures', async () => {
    const admin = ['--admin', proxy.adminUrl];
    const table = await ctl(['status', ...admin]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+STATE\s+ADMIN\s+WEIGHT\s+ACTIVE/m);
    assert.match(table.stdout, /^a\s+UP\s+ready\s+1\s+yes/m);

    const drain = await ctl(['drain', 'b', ...admin, '--token-file', tokenFile]);
    assert.equal(drain.code, 0, drain.stderr);
    assert.equal(drain.stdout, 'backend b: ready -> drain\n');
    const maint = await ctl(['maint', 'b', ...admin, '--token-file', tokenFile, '--json']);
    assert.deepEqual(JSON.parse(maint.stdout), { backend: 'b', state: 'maint', weight: 1, previous: { state: 'drain', weight: 1 } });
    assert.equal((await ctl(['ready', 'b', ...admin, '--token-file', tokenFile])).stdout, 'backend b: maint -> ready\n');
    assert.equal((await ctl(['weight', 'b', '7', ...admin, '--token-file', tokenFile])).stdout, 'backend b: weight 1 -> 7\n');
    const json = JSON.parse((await ctl(['status', ...admin, '--json'])).stdout) as { backends: BackendView[] };
    assert.deepEqual(json.backends.map((b) => [b.name, b.admin, b.weight]), [['a', 'ready', 1], ['b', 'ready', 7]]);
    const failback = await ctl(['failback', ...admin, '--token-file', tokenFile]);
    assert.equal(failback.stdout, 'failback requested; active: a\n');

    const noToken = await ctl(['drain', 'b', ...admin]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /need the admin token: give --token-file/);
    const wrongFile = join(mkdtempSync(join(tmpdir(), 'ctl-')), 'token');
    writeFileSync(wrongFile, 'not-the-token-at-all\n');
    const wrong = await ctl(['drain', 'b', ...admin, '--token-file', wrongFile]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused \(401\)/);
    const badWeight = await ctl(['weight', 'b', '0', ...admin, '--token-file', tokenFile]);
    assert.equal(badWeight.code, 1);
    assert.match(badWeight.stderr, /400 weight must be an integer from 1 to 256/);
    const closed = await ctl(['status', '--admin', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(closed.code, 1);
    assert.match(closed.stderr, /cannot reach the admin listener .*connection refused/);
    const usage = await ctl(['drain']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give the backend NAME/);
    assert.equal((await backendsOf(proxy))[1].admin, 'ready', 'refused commands changed nothing');
  });
});

describe('admin control with --workers 2', { timeout: 120_000 }, () => {
  let replicas: Replica[] = [];
  let proxy: ProxyProcess;

  before(async () => {
    replicas = await startReplicaSet(2);
    proxy = await startProxy({ mode: 'active-active', workers: 2, backends: replicas.map((r, i) => ({ name: i === 0 ? 'a' : 'b', url: r.url })) });
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both backends up');
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('a drain set on the primary reaches every worker: no new request goes to the drained backend', async () => {
    for (let i = 0; i < 10; i++) assert.equal(await get(proxy, '/v2/'), 200);
    assert.ok((await served(proxy, 'a')) > 0, 'round robin used a before the drain');
    await ok(setState(proxy, 'a', 'drain'));
    const before = await served(proxy, 'a');
    for (let i = 0; i < 20; i++) assert.equal(await get(proxy, '/v2/'), 200);
    assert.equal(await served(proxy, 'a'), before);
    // The primary's series alone (not summed over workers): exactly one state at 1.
    assert.deepEqual(await serverStatus(proxy, 'a'), { DOWN: 0, UP: 0, MAINT: 0, DRAIN: 1 });
  });
});

const hasRedis = toolPath('redis-server') !== undefined;

describe('admin control shared through Redis', { timeout: 120_000, skip: hasRedis ? false : 'redis-server is not installed' }, () => {
  let replicas: Replica[] = [];
  let redis: RedisServer;
  let proxies: ProxyProcess[] = [];

  before(async () => {
    replicas = await startReplicaSet(2);
    redis = await startRedisServer();
    const config = {
      mode: 'active-standby',
      backends: replicas.map((r, i) => ({ name: i === 0 ? 'a' : 'b', url: r.url })),
      redis: { url: redis.url, keyPrefix: `admin-${process.pid}:` },
      routing: { secret: 'a routing secret both proxies share' },
    };
    proxies = [await startProxy(config), await startProxy(config)];
    for (const p of proxies) await p.waitFor((s) => s.backends.every((b) => b.up), 'both backends up');
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await redis?.stop('SIGKILL');
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it('draining a backend on one proxy drains it on the other, and a proxy started later reads it', async () => {
    await ok(setState(proxies[0], 'a', 'drain'));
    await proxies[1].waitFor((s) => (s as unknown as { backends: BackendView[] }).backends[0].admin === 'drain' && s.active === 'b', 'the drain to reach the second proxy');
    const late = await startProxy({
      mode: 'active-standby',
      backends: replicas.map((r, i) => ({ name: i === 0 ? 'a' : 'b', url: r.url })),
      redis: { url: redis.url, keyPrefix: `admin-${process.pid}:` },
    });
    proxies.push(late);
    await late.waitFor((s) => (s as unknown as { backends: BackendView[] }).backends[0].admin === 'drain', 'a proxy started later to read the drain');
    await ok(setState(proxies[1], 'a', 'ready'));
    await proxies[0].waitFor((s) => (s as unknown as { backends: BackendView[] }).backends[0].admin === 'ready', 'ready to come back to the first proxy');
  });
});
