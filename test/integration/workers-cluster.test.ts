import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/ports.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { WORKER_SEMI_SPACE_MIB } from '../../src/proxy/workers/worker-node-flags.js';
import { childrenOf, startHaProxy, waitForHttp, type Managed } from '../helpers/processes.js';

// Backends are small HTTP servers in the test process that say who they are, so the test sees
// exactly where each request went. Every request is sent on a fresh connection: node:cluster
// hands new connections to the workers in turn, so consecutive requests exercise every worker.

interface FakeBackend {
  name: string;
  url: string;
  server: Server;
  /** What /v2/ answers: the active health check. */
  healthStatus: number;
  hits: number;
}

async function startBackend(name: string): Promise<FakeBackend> {
  const backend: FakeBackend = { name, url: '', server: createServer(), healthStatus: 200, hits: 0 };
  backend.server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/v2/') {
      res.writeHead(backend.healthStatus, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    backend.hits++;
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && path.endsWith('/blobs/uploads/')) {
        // A registry opening an upload session: the proxy signs this Location for affinity.
        res.writeHead(202, { location: `${path}${name}-session`, 'docker-upload-uuid': `${name}-session` }).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name }).end(name);
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => backend.server.listen(port, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${port}`;
  return backend;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(url: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function metricValue(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** `ha-proxy --workers 2` over backends a and b (fast health checks); `settings` adds mode and failback. */
async function startWorkersProxy(a: FakeBackend, b: FakeBackend, settings: Record<string, unknown>): Promise<{ proxy: ProxyProcess; url: string; admin: string }> {
  const proxy = await startProxy({ backends: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }], workers: 2, ...settings });
  return { proxy, url: proxy.url, admin: proxy.adminUrl };
}

describe('--workers: several processes behave as one proxy', () => {
  let a: FakeBackend;
  let b: FakeBackend;
  let proxy: Managed;
  let url: string;
  let admin: string;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    ({ proxy, url, admin } = await startWorkersProxy(a, b, { mode: 'active-standby', failback: { mode: 'auto', delayMs: 0 } }));
    await waitForHttp(`${url}/v2/x/blobs/sha256:1`, { proc: proxy, statuses: [200] });
    await waitForHttp(`${admin}/readyz`, { proc: proxy, statuses: [200] });
  });

  after(async () => {
    await proxy?.stop();
    a?.server.close();
    b?.server.close();
  });

  it('serves from two worker processes and sums their traffic in /metrics', async () => {
    const DURATIONS = 'haproxy_frontend_http_request_duration_seconds_count';
    const beforeText = await (await fetch(`${admin}/metrics`)).text();
    const before = metricValue(beforeText, 'haproxy_frontend_http_requests_total');
    for (let i = 0; i < 20; i++) assert.equal((await send(`${url}/v2/x/blobs/sha256:${i}`)).body, 'a');
    const afterText = await (await fetch(`${admin}/metrics`)).text();
    assert.equal(metricValue(afterText, 'haproxy_frontend_http_requests_total') - before, 20);
    // The duration histogram sums over the workers too (a worker times a request once it has ended).
    const durationsBefore = metricValue(beforeText, DURATIONS);
    await waitFor(async () => metricValue(await (await fetch(`${admin}/metrics`)).text(), DURATIONS) - durationsBefore === 20, '20 more request durations');
    // Health series come from the primary only, not once per worker.
    assert.match(afterText, /haproxy_server_status\{server="a",state="UP"\} 1\n/);
  });

  it('moves every worker to the standby when the primary process sees the active backend fail its checks', async () => {
    a.healthStatus = 503;
    // Within a few check intervals the primary marks `a` down and tells every worker.
    await waitFor(async () => (await send(`${url}/v2/x/blobs/sha256:probe`)).body === 'b', 'traffic to move to b');
    const hitsOnA = a.hits;
    // `a` still answers data requests: a worker that had not heard would keep sending there.
    for (let i = 0; i < 20; i++) assert.equal((await send(`${url}/v2/x/blobs/sha256:${i}`)).body, 'b');
    assert.equal(a.hits, hitsOnA);
    a.healthStatus = 200;
    // failback auto with no delay: every worker comes back to `a` once it is up again.
    await waitFor(async () => (await send(`${url}/v2/x/blobs/sha256:probe`)).body === 'a', 'traffic to return to a');
    for (let i = 0; i < 20; i++) assert.equal((await send(`${url}/v2/x/blobs/sha256:${i}`)).body, 'a');
  });

  it('gives its workers the config over IPC: no secret in their environment (/proc/<pid>/environ)', async () => {
    const workers = childrenOf(proxy.child.pid!);
    assert.equal(workers.length, 2, `two workers under the primary: ${workers.join(', ')}`);
    for (const pid of workers) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      assert.doesNotMatch(environ, /HA_PROXY_CLUSTER_(CONFIG|SECRET)=/, `worker ${pid}`);
      assert.ok(!environ.includes((proxy as ProxyProcess).adminToken), `worker ${pid}: the admin token is not in its environment`);
    }
  });

  it("starts its workers with a capped young generation (/proc/<pid>/cmdline), the primary's own flags kept", async () => {
    const workers = childrenOf(proxy.child.pid!);
    assert.equal(workers.length, 2);
    for (const pid of workers) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.ok(argv.includes(`--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`), `worker ${pid}: ${argv.join(' ')}`);
    }
  });

  it('drains and exits 0 on SIGTERM, taking its workers with it', async () => {
    const code = await proxy.stop('SIGTERM');
    assert.equal(code, 0);
    await assert.rejects(send(`${url}/v2/`));
  });
});

describe('--workers: a stop signal while the workers are starting', () => {
  it('SIGTERM before every worker listens stops the workers and exits 0 (not killed by the signal)', async () => {
    const a = await startBackend('a');
    const [port, adminPort] = [await freePort(), await freePort()];
    // Six workers on two cores take a few seconds to start: the window this test needs.
    const proc = startHaProxy(['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--backend', a.url, '--workers', '6', '--log-level', 'warn']);
    try {
      let starting = false;
      for (let i = 0; i < 400 && !starting; i++) {
        const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.text(), () => '');
        starting = /[0-5] of 6 workers listening/.test(ready);
        if (!starting) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(starting, 'the primary answered /readyz while its workers were still starting');
      const workers = childrenOf(proc.child.pid!);
      const code = await proc.stop('SIGTERM');
      assert.equal(code, 0, `exit code (null: killed by the signal)\n${proc.output()}`);
      for (const pid of workers) assert.throws(() => process.kill(pid, 0), `worker ${pid} is gone`);
    } finally {
      await proc.stop('SIGKILL');
      a.server.close();
    }
  });
});

describe('--workers: upload affinity holds whichever worker takes the request', () => {
  it('routes each upload session to the backend that opened it, for sessions opened on any worker', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    const { proxy, url } = await startWorkersProxy(a, b, { mode: 'active-active' });
    try {
      await waitForHttp(`${url}/v2/`, { proc: proxy, statuses: [200] });
      const owners = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const opened = await send(`${url}/v2/team/repo-${i}/blobs/uploads/`, 'POST');
        assert.equal(opened.status, 202);
        const location = String(opened.headers.location);
        const owner = location.includes('a-session') ? 'a' : 'b';
        owners.add(owner);
        // Fresh connections: the follow-up requests land on the workers in turn.
        for (let j = 0; j < 3; j++) {
          const next = await send(new URL(location, url).toString(), 'PATCH');
          assert.equal(next.status, 200, `PATCH ${location}: ${next.body}`);
          assert.equal(next.body, owner);
        }
      }
      assert.equal(owners.size, 2, 'sessions were opened on both backends');
    } finally {
      await proxy.stop();
      a.server.close();
      b.server.close();
    }
  });
});

describe('--workers: manual failback reaches every worker', () => {
  it('keeps every worker on the standby until an operator posts /failback, then moves them all back', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    const { proxy, url, admin } = await startWorkersProxy(a, b, { mode: 'active-standby', failback: { mode: 'manual' } });
    try {
      await waitForHttp(`${admin}/readyz`, { proc: proxy, statuses: [200] });
      await waitFor(async () => (await send(`${url}/v2/x/blobs/sha256:probe`)).body === 'a', 'traffic on a');
      a.healthStatus = 503;
      await waitFor(async () => (await send(`${url}/v2/x/blobs/sha256:probe`)).body === 'b', 'failover to b');
      a.healthStatus = 200;
      // `a` is UP again (the primary says so) but manual failback keeps every worker on `b`.
      await waitFor(async () => {
        const status = (await (await fetch(`${admin}/status`)).json()) as { backends: { name: string; up: boolean }[] };
        return status.backends[0].up;
      }, 'a to be UP again');
      for (let i = 0; i < 10; i++) assert.equal((await send(`${url}/v2/x/blobs/sha256:${i}`)).body, 'b');
      const posted = await proxy.adminPost('/failback');
      assert.equal(posted.status, 200);
      await posted.arrayBuffer();
      // Every worker got the relay: fresh connections on either worker all reach `a`.
      await waitFor(async () => (await send(`${url}/v2/x/blobs/sha256:probe`)).body === 'a', 'failback to a');
      for (let i = 0; i < 10; i++) assert.equal((await send(`${url}/v2/x/blobs/sha256:${i}`)).body, 'a');
    } finally {
      await proxy.stop();
      a.server.close();
      b.server.close();
    }
  });
});
