import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { toolPath } from '../helpers/tools.js';

// Two ha-proxy processes in front of the same two backends, sharing health through a real
// redis-server. Only the first proxy gets traffic; the second learns of the failure from Redis.

const hasRedis = toolPath('redis-server') !== undefined;
if (!hasRedis && process.env.CI) throw new Error('redis-server is not installed (apt-get install redis-server)');

interface Backend {
  url: string;
  server: Server;
  /** Status for data requests; /v2/ (the health check) always answers 200. */
  dataStatus: number;
}

async function startBackend(name: string): Promise<Backend> {
  const backend: Backend = { url: '', server: createServer(), dataStatus: 200 };
  backend.server.on('request', (req, res) => {
    req.resume();
    if (req.url === '/v2/') res.writeHead(200).end('{}');
    else res.writeHead(backend.dataStatus, { 'content-type': 'text/plain' }).end(name);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => backend.server.listen(port, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${port}`;
  return backend;
}

const DOWN_BY_PASSIVE = 'server="a",state="DOWN",reason="passive"';

describe('redis: proxies share backend failures', { skip: hasRedis ? false : 'redis-server is not installed (apt-get install redis-server)' }, () => {
  let redis: RedisServer;
  let a: Backend;
  let b: Backend;
  let first: ProxyProcess;
  let second: ProxyProcess;

  before(async () => {
    redis = await startRedisServer();
    a = await startBackend('a');
    b = await startBackend('b');
    const config = {
      mode: 'active-standby',
      backends: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }],
      // Slow checks: within this test only the shared report can take `a` down on the second proxy.
      healthCheck: { intervalMs: 60_000, fastIntervalMs: 60_000, downIntervalMs: 60_000, errorLimit: 3 },
      failback: { mode: 'manual' },
      redis: { url: redis.url, keyPrefix: `test-${process.pid}:` },
    };
    first = await startProxy(config, { logLevel: 'warn' });
    second = await startProxy({ ...config, workers: 2 }, { logLevel: 'warn' });
    await first.waitFor((s) => s.active === 'a', 'the first proxy to use a');
    await second.waitFor((s) => s.active === 'a', 'the second proxy to use a');
  });

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    a?.server.close();
    b?.server.close();
    await redis?.stop('SIGKILL');
  });

  it('takes a backend out on every proxy when one proxy sees it fail, and moves their traffic together', async () => {
    a.dataStatus = 503;
    // Real traffic through the first proxy only: errorLimit 5xx answers mark `a` down there.
    for (let i = 0; i < 3; i++) await (await fetch(`${first.url}/v2/x/manifests/latest`)).arrayBuffer();
    await first.waitFor((s) => s.backends[0].up === false && s.active === 'b', 'the first proxy to fail over');
    // The second proxy saw no failure itself (its checks run once a minute and /v2/ answers 200),
    // yet it marks `a` down from the report shared through Redis and fails over too.
    await second.waitFor((s) => s.backends[0].up === false && s.active === 'b', 'the second proxy to fail over');
    assert.equal(await second.metric('haproxy_server_state_changes_total', DOWN_BY_PASSIVE), 1);
    const reply = await fetch(`${second.url}/v2/x/manifests/latest`);
    assert.equal(await reply.text(), 'b');
  });
});
