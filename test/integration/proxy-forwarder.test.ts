// The forwarder against tiny local backends, through the real CLI process: one test per
// defect http-proxy is known for (the behaviour any forwarder here must get right),
// plus errors, retries, passive health and graceful shutdown.
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runProxy } from '../../src/proxy/run.js';
import { validateConfigObject } from '../../src/config/load.js';
import { freePort } from '../helpers/ports.js';
import { startProcess } from '../helpers/processes.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

interface Backend {
  url: string;
  port: number;
  server: Server;
  connections: number;
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function startBackend(handler: RequestListener): Promise<Backend> {
  const server = createServer((req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    backend.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  // Longer than the proxy's keep-alive idle (4 s), as the README asks of backends.
  server.keepAliveTimeout = 10_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const backend: Backend = {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests: [],
    get connections() {
      return connectionCount;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  let connectionCount = 0;
  server.on('connection', (socket: Socket) => {
    // Health checks use their own connections (connection: close); count the others.
    socket.once('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('GET /v2/ ')) connectionCount++;
    });
  });
  return backend;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Set when the transfer failed (connection destroyed) instead of ending cleanly. */
  error?: string;
}

function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent === false ? false : undefined }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: String(err) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const toStop: { stop: () => Promise<unknown> }[] = [];
after(async () => {
  await Promise.all(toStop.map((item) => item.stop()));
});

async function proxyFor(backends: Backend[] | string[], config: Record<string, unknown> = {}): Promise<ProxyProcess> {
  const proxy = await startProxy({
    mode: 'active-standby',
    backends: backends.map((b) => ({ url: typeof b === 'string' ? b : b.url })),
    ...config,
  });
  toStop.push(proxy);
  return proxy;
}

function track(backend: Backend): Backend {
  toStop.push({ stop: () => backend.close() });
  return backend;
}

describe('forwarder (the defects http-proxy is known for, answered)', () => {
  it('reuses keep-alive connections to a backend instead of one connection per request', async () => {
    const backend = track(await startBackend((req, res) => res.end(`ok ${req.headers.connection}`)));
    const proxy = await proxyFor([backend]);
    for (let i = 0; i < 20; i++) {
      const reply = await send(`${proxy.url}/v2/x/manifests/${i}`, { agent: false });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'ok keep-alive');
    }
    assert.equal(backend.connections, 1, '20 sequential requests over one pooled connection');
  });

  it('keeps the pooled connection across HEAD requests (clients send one per blob)', async () => {
    const backend = track(await startBackend((req, res) => res.writeHead(200, { 'content-length': '2', 'docker-content-digest': 'sha256:x' }).end(req.method === 'HEAD' ? undefined : 'ok')));
    const proxy = await proxyFor([backend]);
    for (let i = 0; i < 10; i++) {
      const head = await send(`${proxy.url}/v2/x/blobs/${i}`, { method: 'HEAD', agent: false });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '2');
      assert.equal(head.body.length, 0);
      const get = await send(`${proxy.url}/v2/x/blobs/${i}`, { agent: false });
      assert.equal(get.body.toString(), 'ok');
    }
    assert.equal(backend.requests.filter((r) => r.method === 'HEAD').length, 10);
    assert.equal(backend.connections, 1, '10 HEADs and 10 GETs over one pooled connection');
  });

  it('exposes HAProxy-named metrics with a duration histogram reaching minutes', async () => {
    const backend = track(await startBackend((_req, res) => res.end('ok')));
    const proxy = await proxyFor([backend]);
    await send(`${proxy.url}/v2/a/manifests/1`);
    const server = `server="127.0.0.1:${backend.port}"`;
    assert.equal(await proxy.metric('haproxy_frontend_http_requests_total'), 1);
    assert.equal(await proxy.metric('haproxy_server_http_responses_total', `${server},code="2xx"`), 1);
    assert.equal(await proxy.metric('haproxy_frontend_http_request_duration_seconds_bucket', 'le="600"'), 1);
    assert.equal(await proxy.metric('haproxy_server_status', `${server},state="UP"`), 1);
    assert.equal(await proxy.metric('haproxy_server_active', server), 1);
    assert.equal(await proxy.metric('haproxy_backend_active_servers'), 1);
    assert.ok((await proxy.metric('haproxy_server_bytes_out_total', server)) > 0);
    assert.ok((await proxy.metric('haproxy_server_checks_total', `${server},result="success"`)) >= 1);
    const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    assert.match(text, /^haproxy_process_resident_memory_bytes \d+/m, 'default process metrics');
  });

  it('keeps the client Host (changeOrigin false), sets X-Forwarded-*, rewrites backend Locations', async () => {
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(202, { location: `http://127.0.0.1:${backend.port}/v2/r/blobs/uploads/u1?_state=a%3D` }).end();
    }));
    const proxy = await proxyFor([backend]);
    const reply = await send(`${proxy.url}/v2/r/blobs/uploads/`, { method: 'POST', headers: { host: 'registry.example:5000' } });
    assert.equal(reply.status, 202);
    // Registry-aware routing may append its upload token; the backend's origin must be gone.
    assert.ok(reply.headers.location?.startsWith('http://registry.example:5000/v2/r/blobs/uploads/u1?_state=a%3D'), reply.headers.location);
    const seen = backend.requests.at(-1)!;
    assert.equal(seen.headers.host, 'registry.example:5000');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], 'registry.example:5000');
  });

  it('answers 504 with an OCI error from its own timer when a backend never responds', async () => {
    const backend = track(await startBackend(() => { /* never answers */ }));
    const proxy = await proxyFor([backend], { timeouts: { responseHeadersMs: 300 }, healthCheck: { errorLimit: 0 } });
    const reply = await send(`${proxy.url}/v2/slow/manifests/latest`);
    assert.equal(reply.status, 504);
    const body = JSON.parse(reply.body.toString()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0].code, 'UNAVAILABLE');
    assert.match(body.errors[0].message, /did not respond in time/);
    assert.equal(await proxy.metric('haproxy_server_failures_total', 'cause="RESPONSE_TIMEOUT"'), 1);
  });

  it('answers 502 with an OCI error when the backend refuses connections, and keeps running', async () => {
    const deadPort = await freePort();
    const proxy = await proxyFor([`http://127.0.0.1:${deadPort}`], { healthCheck: { intervalMs: 60_000, downIntervalMs: 60_000 } });
    // The first check takes it down; before that, or after, the answer is an OCI error.
    for (let i = 0; i < 3; i++) {
      const reply = await send(`${proxy.url}/v2/a/blobs/sha256:00`);
      assert.ok(reply.status === 502 || reply.status === 503, `status ${reply.status}`);
      assert.equal(JSON.parse(reply.body.toString()).errors[0].code, 'UNAVAILABLE');
    }
    assert.equal((await send(`${proxy.adminUrl}/livez`)).status, 200, 'the proxy did not crash');
  });

  it('destroys the upstream request when a client aborts a download', async () => {
    let upstreamClosed = false;
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 20);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    }));
    const proxy = await proxyFor([backend]);
    await new Promise<void>((resolve, reject) => {
      const req = request(`${proxy.url}/v2/a/blobs/sha256:endless`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', resolve);
      req.end();
      setTimeout(() => reject(new Error('no data')), 10_000).unref();
    });
    await until(() => upstreamClosed, 'the backend to see its response closed');
  });

  it('destroys the upstream request when a client aborts an upload mid-body', async () => {
    let upstream: 'pending' | 'ended' | 'aborted' = 'pending';
    const backend = track(await startBackend((req, res) => {
      req.on('end', () => { upstream = 'ended'; res.end(); });
      req.on('close', () => { if (upstream === 'pending') upstream = 'aborted'; });
      req.resume();
    }));
    const proxy = await proxyFor([backend]);
    const req = request(`${proxy.url}/v2/a/blobs/uploads/u1`, { method: 'PATCH', headers: { 'transfer-encoding': 'chunked', expect: '100-continue' } });
    req.on('error', () => {});
    req.on('continue', () => {
      req.write(Buffer.alloc(64 * 1024));
      setTimeout(() => req.destroy(), 100);
    });
    req.flushHeaders();
    await until(() => upstream !== 'pending', 'the backend to see the upload end');
    assert.equal(upstream, 'aborted', 'the backend must not see a short upload that ends cleanly');
  });

  it('fails the client transfer visibly when the backend dies mid-body (Content-Length)', async () => {
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(200, { 'content-length': String(1024 * 1024) });
      res.write(Buffer.alloc(64 * 1024), () => setTimeout(() => res.socket?.destroy(), 50));
    }));
    const proxy = await proxyFor([backend]);
    const reply = await send(`${proxy.url}/v2/a/blobs/sha256:short`);
    assert.equal(reply.status, 200);
    assert.ok(reply.error, 'the transfer failed');
    assert.ok(reply.body.length < 1024 * 1024);
  });

  it('cuts a transfer whose backend stalls mid-body for idleMs, failing it visibly', async () => {
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100)); // ... and nothing more, connection left open
    }));
    const proxy = await proxyFor([backend], { timeouts: { idleMs: 300 } });
    const reply = await send(`${proxy.url}/v2/a/blobs/sha256:stalled`);
    assert.equal(reply.status, 200);
    assert.ok(reply.error, 'the client saw the transfer fail');
    assert.equal(reply.body.length, 100);
  });

  it('fails the client transfer visibly when the backend dies mid-body (chunked: a clean end would look complete)', async () => {
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tags":["a",', () => setTimeout(() => res.socket?.destroy(), 50));
    }));
    const proxy = await proxyFor([backend]);
    const reply = await send(`${proxy.url}/v2/a/tags/list`);
    assert.equal(reply.status, 200);
    assert.ok(reply.error, `the client saw an error, not a clean end of "${reply.body.toString()}"`);
  });
});

/**
 * A listener whose process never accepts (its event loop is busy) with a full accept queue:
 * the kernel drops further SYNs, so a connect to it hangs as to a frozen or unreachable host.
 */
async function startBlackhole(): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const port = await freePort();
  const proc = startProcess(process.execPath, [
    '-e',
    `require('net').createServer().listen({ port: ${port}, host: '127.0.0.1', backlog: 1 }, () => { console.log('ready'); for (;;); })`,
  ]);
  // It spins a core: stopped by its test, and here too in case the test failed first.
  toStop.push({ stop: () => proc.stop('SIGKILL') });
  await until(() => proc.output().includes('ready'), 'the blackhole to listen');
  for (let i = 0; i < 4; i++) connect(port, '127.0.0.1').on('error', () => {}).unref();
  await sleep(200);
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.stop('SIGKILL') };
}

/**
 * Waits until both backends are UP with `primary` active. On a loaded machine a first health
 * check can time out and fail traffic over before the test starts; in manual failback mode
 * only an operator brings it back, so the test does what an operator would.
 */
async function primaryActive(proxy: ProxyProcess, primary: Backend): Promise<void> {
  const name = `127.0.0.1:${primary.port}`;
  await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both backends up');
  if ((await proxy.status()).active !== name) await (await proxy.adminPost('/failback')).arrayBuffer();
  await proxy.waitFor((s) => s.active === name, 'the primary to be active');
}

describe('retries, passive health, no backend', () => {
  it('answers 504 from its connect timer, and retries a GET on the next backend after it', async (t) => {
    const blackhole = await startBlackhole();
    const healthy = track(await startBackend((req, res) => { req.resume(); req.on('end', () => res.end('from standby')); }));
    // Slow checks and no passive limit: the blackhole stays UP and keeps getting the first try.
    const proxy = await proxyFor([blackhole.url, healthy.url], { timeouts: { connectMs: 300 }, healthCheck: { timeoutMs: 30_000, errorLimit: 0 } });
    t.after(() => blackhole.stop());
    const get = await send(`${proxy.url}/v2/a/manifests/latest`);
    assert.equal(get.status, 200);
    assert.equal(get.body.toString(), 'from standby');
    const put = await send(`${proxy.url}/v2/a/manifests/latest`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 504);
    assert.match(JSON.parse(put.body.toString()).errors[0].message, /connecting to the backend timed out/);
    assert.equal(await proxy.metric('haproxy_server_failures_total', 'cause="CONNECT_TIMEOUT"'), 2);
  });


  it('retries a GET on the next backend after a reset, never a request whose body was sent', async () => {
    const resetting = track(await startBackend((req) => req.socket.destroy()));
    const healthy = track(await startBackend((req, res) => { req.resume(); req.on('end', () => res.end('from standby')); }));
    const proxy = await proxyFor([resetting, healthy], { healthCheck: { errorLimit: 0 } });
    const get = await send(`${proxy.url}/v2/a/manifests/latest`);
    assert.equal(get.status, 200);
    assert.equal(get.body.toString(), 'from standby');
    assert.equal(await proxy.metric('haproxy_server_retry_warnings_total', `server="127.0.0.1:${resetting.port}"`), 1);
    const before = healthy.requests.length;
    const put = await send(`${proxy.url}/v2/a/blobs/uploads/u1?digest=sha256:00`, { method: 'PUT', body: Buffer.alloc(1000) });
    assert.equal(put.status, 502);
    assert.equal(JSON.parse(put.body.toString()).errors[0].code, 'UNAVAILABLE');
    assert.equal(healthy.requests.length, before, 'the PUT body was not replayed on the standby');
  });

  it('marks a backend down at once after errorLimit 5xx answers, and fails over', async () => {
    const failing = track(await startBackend((_req, res) => res.writeHead(503).end('busy')));
    const standby = track(await startBackend((_req, res) => res.end('standby')));
    const proxy = await proxyFor([failing, standby], { healthCheck: { errorLimit: 3, intervalMs: 60_000 }, failback: { mode: 'manual' } });
    await primaryActive(proxy, failing);
    const passiveBefore = await proxy.metric('haproxy_server_state_changes_total', 'reason="passive"');
    const failoversBefore = await proxy.metric('haproxy_backend_failovers_total', 'kind="failover"');
    for (let i = 0; i < 3; i++) assert.equal((await send(`${proxy.url}/v2/a/manifests/x`)).status, 503);
    const next = await send(`${proxy.url}/v2/a/manifests/x`);
    assert.equal(next.body.toString(), 'standby');
    assert.equal(await proxy.metric('haproxy_server_state_changes_total', 'reason="passive"'), passiveBefore + 1);
    assert.equal(await proxy.metric('haproxy_backend_failovers_total', 'kind="failover"'), failoversBefore + 1);
  });

  it('stays on the standby in manual failback mode until an operator posts /failback', async () => {
    let primaryFails = true;
    const primary = track(await startBackend((_req, res) => (primaryFails ? res.writeHead(500).end('broken') : res.end('primary'))));
    const standby = track(await startBackend((_req, res) => res.end('standby')));
    const proxy = await proxyFor([primary, standby], { healthCheck: { errorLimit: 2 }, failback: { mode: 'manual' } });
    await primaryActive(proxy, primary);
    for (let i = 0; i < 2; i++) assert.equal((await send(`${proxy.url}/other/x`)).status, 500);
    primaryFails = false;
    // Passive errors took it down; active checks (/v2/ answers 200) bring it back UP ...
    await proxy.waitFor((s) => s.backends[0].up && s.active === `127.0.0.1:${standby.port}`, 'primary UP again, standby still active');
    assert.equal((await send(`${proxy.url}/other/x`)).body.toString(), 'standby', '... but manual mode keeps traffic on the standby');
    const posted = await proxy.adminPost('/failback');
    assert.equal(posted.status, 200);
    assert.equal(((await posted.json()) as { active: string }).active, `127.0.0.1:${primary.port}`);
    assert.equal((await send(`${proxy.url}/other/x`)).body.toString(), 'primary');
  });

  it('treats a 401 on the health path as healthy (a registry with auth)', async () => {
    const server = createServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    toStop.push({ stop: () => new Promise((r) => server.close(r)) });
    const proxy = await proxyFor([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]);
    await until(async () => (await proxy.metric('haproxy_server_checks_total', 'result="success"')) >= 3, 'three good checks');
    assert.ok((await proxy.status()).backends[0].up);
    assert.equal((await send(`${proxy.url}/v2/`)).status, 401, 'the challenge is passed through');
  });

  it('balances active-active by weight (smooth round robin) over healthy backends', async () => {
    const a = track(await startBackend((_req, res) => res.end('a')));
    const b = track(await startBackend((_req, res) => res.end('b')));
    const proxy = await startProxy({ mode: 'active-active', backends: [{ url: a.url, weight: 2 }, { url: b.url, weight: 1 }] });
    toStop.push(proxy);
    await proxy.waitFor((s) => s.backends.every((x) => x.up), 'both up');
    const seen: string[] = [];
    // Paths outside /v2/<name>/ are balanced by the mode router alone (no per-repository pinning).
    for (let i = 0; i < 30; i++) seen.push((await send(`${proxy.url}/other/${i}`)).body.toString());
    assert.equal(seen.filter((x) => x === 'a').length, 20);
    assert.equal(seen.filter((x) => x === 'b').length, 10);
  });

  it('answers 503 with an OCI error when no backend is healthy, and /readyz says so', async () => {
    const deadPort = await freePort();
    const proxy = await proxyFor([`http://127.0.0.1:${deadPort}`]);
    await proxy.waitFor((s) => !s.backends[0].up, 'the backend to be marked down');
    const reply = await send(`${proxy.url}/v2/`);
    assert.equal(reply.status, 503);
    assert.deepEqual(JSON.parse(reply.body.toString()), { errors: [{ code: 'UNAVAILABLE', message: 'no healthy backend' }] });
    const ready = await send(`${proxy.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(ready.body.toString(), /no healthy backend/);
  });

  it('refuses to start a proxy mode with no backends', async () => {
    const config = validateConfigObject({ mode: 'active-standby', listen: '127.0.0.1:0', adminListen: '127.0.0.1:1' });
    await assert.rejects(runProxy(config), /no backends/);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    let release: () => void = () => {};
    const backend = track(await startBackend((_req, res) => {
      res.writeHead(200, { 'content-length': '4' });
      res.write('do');
      release = () => res.end('ne');
    }));
    const proxy = await proxyFor([backend], { drainTimeoutMs: 20_000 });
    const inFlight = send(`${proxy.url}/v2/a/blobs/sha256:slow`);
    await until(() => backend.requests.length === 1, 'the request to reach the backend');
    const exited = proxy.stop('SIGTERM');
    await until(async () => (await send(`${proxy.adminUrl}/readyz`).catch(() => ({ status: 0 }))).status !== 200, 'readyz to stop saying ready');
    await assert.rejects(send(`${proxy.url}/v2/`, { agent: false }), /ECONNREFUSED/, 'no new connections');
    release();
    const reply = await inFlight;
    assert.equal(reply.body.toString(), 'done');
    assert.equal(reply.error, undefined);
    assert.equal(await exited, 0);
    // The access line of the drained request, flushed on exit.
    const line = proxy.output().split('\n').find((l) => l.includes('"msg":"access"') && l.includes('sha256:slow'));
    assert.ok(line, 'an access line was logged');
    const access = JSON.parse(line) as Record<string, unknown>;
    assert.equal(access.method, 'GET');
    assert.equal(access.url, '/v2/a/blobs/sha256:slow');
    assert.equal(access.status, 200);
    assert.equal(access.backend, `127.0.0.1:${backend.port}`);
    assert.equal(access.retries, 0);
    assert.equal(access.body, undefined, 'a body sent in full is not flagged');
    for (const field of ['bytesIn', 'bytesOut', 'durationMs']) assert.equal(typeof access[field], 'number', field);
  });
});
