import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';
import { toolPath } from '../helpers/tools.js';

// Two active-standby proxies sharing a real redis-server in front of two built-in registries,
// `a` (priority) and `b`. The second proxy reaches `a` through a TCP relay, so the test can cut
// `a` off for that proxy alone: a partial partition. Both must name the same active backend
// (the one both reach) within a few seconds and keep naming it for the whole partition, across
// a Redis restart too, and come back to `a` together once the partition heals.

const hasRedis = toolPath('redis-server') !== undefined;
if (!hasRedis && process.env.CI) throw new Error('redis-server is not installed (apt-get install redis-server)');

interface Sample {
  near: string | null;
  far: string | null;
}

describe('redis: proxies elect one active backend', { skip: hasRedis ? false : 'redis-server is not installed (apt-get install redis-server)' }, () => {
  let redis: RedisServer;
  let a: RegistryProcess;
  let b: RegistryProcess;
  let relay: TcpRelay;
  let near: ProxyProcess;
  let far: ProxyProcess;

  const sample = async (): Promise<Sample> => {
    const [n, f] = await Promise.all([near.status(), far.status()]);
    return { near: n.active, far: f.active };
  };

  /** Responses a proxy got from `server` (its workers' counters summed). */
  const served = (proxy: ProxyProcess, server: string) => proxy.metric('haproxy_server_http_responses_total', `server="${server}",code="2xx"`);

  /**
   * Samples both proxies every 200 ms for `ms`, with a request through each (routing decides per
   * request, so the request path must follow the election too); returns where they disagreed.
   */
  const disagreements = async (ms: number, during?: () => Promise<void>): Promise<Sample[]> => {
    const seen: Sample[] = [];
    let sampling = true;
    const loop = (async () => {
      while (sampling) {
        for (const proxy of [near, far]) assert.equal((await fetch(`${proxy.url}/v2/`)).status, 200);
        const s = await sample();
        if (s.near !== s.far) seen.push(s);
        await sleep(200);
      }
    })();
    await during?.();
    await sleep(ms);
    sampling = false;
    await loop;
    return seen;
  };

  before(async () => {
    redis = await startRedisServer();
    [a, b] = await Promise.all([startRegistryProcess(), startRegistryProcess()]);
    relay = await startTcpRelay(a.port);
    const config = (aUrl: string) => ({
      mode: 'active-standby',
      backends: [{ name: 'a', url: aUrl }, { name: 'b', url: b.url }],
      failback: { mode: 'auto', delayMs: 1000 },
      redis: { url: redis.url, keyPrefix: `election-${process.pid}:`, leaseMs: 1500 },
    });
    near = await startProxy(config(a.url), { logLevel: 'warn' });
    // Two workers: the primary takes part in the election and hands the choice to its workers.
    far = await startProxy({ ...config(relay.url), workers: 2 }, { logLevel: 'warn' });
    await near.waitFor((s) => s.active === 'a', 'the first proxy to use a');
    await far.waitFor((s) => s.active === 'a', 'the second proxy to use a');
  });

  after(async () => {
    await Promise.all([near?.stop(), far?.stop(), a?.stop(), b?.stop()]);
    await relay?.close();
    await redis?.stop('SIGKILL');
  });

  it('agrees on the backend both reach for the whole partition, across a Redis restart, and fails back together', async () => {
    relay.block();
    await far.waitFor((s) => s.active === 'b', 'the cut-off proxy to leave a', 10_000);
    await near.waitFor((s) => s.active === 'b', 'the other proxy to follow it to b', 10_000);
    const before = { nearA: await served(near, 'a'), nearB: await served(near, 'b'), farB: await served(far, 'b') };
    // Today's failure: the near proxy's own checks see `a` healthy and it fails back alone.
    // Four times failback.delayMs plus the lease: the near proxy's own failback would come within it.
    assert.deepEqual(await disagreements(4000), [], 'the proxies disagreed during the partition');
    assert.equal(await served(near, 'a'), before.nearA, 'the near proxy sent nothing to a');
    assert.ok((await served(near, 'b')) > before.nearB, 'the near proxy served from b');
    assert.ok((await served(far, 'b')) > before.farB, 'the far proxy (its workers) served from b');
    // What an operator sees: one leader, and why `a` is out.
    const elections = [(await near.status()).election, (await far.status()).election];
    assert.deepEqual(elections.map((e) => e?.role).sort(), ['follower', 'leader']);
    assert.deepEqual(elections.map((e) => e?.unreachable), [['a'], ['a']]);

    const restart = async () => {
      await redis.stop('SIGKILL');
      redis = await startRedisServer(redis.port);
    };
    // Past the restart, more than twice the lease: an election lost with the old server shows here.
    assert.deepEqual(await disagreements(4000, restart), [], 'the proxies disagreed across the Redis restart');
    assert.deepEqual(await sample(), { near: 'b', far: 'b' });

    relay.unblock();
    await near.waitFor((s) => s.active === 'a', 'the first proxy to fail back to a', 15_000);
    await far.waitFor((s) => s.active === 'a', 'the second proxy to fail back to a', 15_000);
  });
});
