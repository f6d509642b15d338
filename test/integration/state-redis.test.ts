import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthParams } from '../../src/health/health-state.js';
import { RedisStateStore } from '../../src/state/redis-state-store.js';
import { SharedHealthStore } from '../../src/state/shared-health-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { toolPath } from '../helpers/tools.js';

const PARAMS: HealthParams = { rise: 2, fall: 2, errorLimit: 1, intervalMs: 1000, fastIntervalMs: 100, downIntervalMs: 1000, jitter: 0 };

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const hasRedis = toolPath('redis-server') !== undefined;
if (!hasRedis && process.env.CI) throw new Error('redis-server is not installed (apt-get install redis-server)');

describe('Redis state store against a real redis-server', { skip: hasRedis ? false : 'redis-server is not installed (apt-get install redis-server)' }, () => {
  let redis: RedisServer;
  const stores: RedisStateStore[] = [];
  const open = (prefix = 'test:') => {
    const store = new RedisStateStore({ url: redis.url, keyPrefix: prefix, commandTimeoutMs: 250 });
    stores.push(store);
    return store;
  };

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await redis?.stop('SIGKILL');
  });

  it('keeps keys under the prefix with a TTL', async () => {
    const a = open('one:');
    const b = open('two:');
    await waitFor(() => a.isUp() && b.isUp(), 'connections');
    assert.equal(await a.set('k', 'v', 200), true);
    assert.equal(await a.get('k'), 'v');
    assert.equal(await b.get('k'), undefined, 'another prefix is another namespace');
    await waitFor(async () => (await a.get('k')) === undefined, 'the key to expire');
  });

  it('propagates a backend failure from one proxy to another through pub/sub', async () => {
    const urls = ['http://127.0.0.1:1', 'http://127.0.0.1:2'];
    const p1 = new SharedHealthStore(urls, PARAMS, open('health-a:'));
    const p2 = new SharedHealthStore(urls, PARAMS, open('health-a:'));
    await waitFor(() => stores.slice(-2).every((s) => s.isUp()), 'connections');
    // Give the subscriber connection time to subscribe: the key covers a lost message anyway.
    await sleep(100);
    p1.reportTraffic(0, false, 'ECONNREFUSED');
    await waitFor(() => !p2.snapshot()[0].up, 'the second proxy to mark the backend down');
    assert.equal(p2.snapshot()[1].up, true);
  });

  it('runs the lease operations of the election as compare-and-act steps', async () => {
    const one = open('lease:');
    await waitFor(() => one.isUp(), 'the connection');
    assert.equal(await one.setIfAbsent('lease', 'p1', 5000), true);
    assert.equal(await one.setIfAbsent('lease', 'p2', 5000), false, 'a held lease is not taken');
    assert.equal(await one.renewIfEqual('lease', 'p2', 5000), false, 'only the holder renews');
    assert.equal(await one.renewIfEqual('lease', 'p1', 5000), true);
    assert.equal(await one.setIfGuard('lease', 'p2', 'choice', 'b', 5000), false, 'a write fenced by the lease');
    assert.equal(await one.get('choice'), undefined);
    assert.equal(await one.setIfGuard('lease', 'p1', 'choice', 'b', 5000), true);
    assert.equal(await one.get('choice'), 'b');
    assert.equal(await one.deleteIfEqual('lease', 'p2'), false, 'only the holder releases');
    assert.equal(await one.deleteIfEqual('lease', 'p1'), true);
    assert.equal(await one.get('lease'), undefined);
    assert.equal(await one.increment('epoch', 0), 1);
    assert.equal(await one.increment('epoch', 0), 2);
    assert.equal(await one.increment('epoch', 7), 8, 'never at or below the floor (a Redis that lost its data)');
  });

  it('never blocks while Redis is down, and resynchronises from keys when it returns', async () => {
    const urls = ['http://127.0.0.1:3'];
    const store = open('outage:');
    const observer = new SharedHealthStore(urls, PARAMS, store);
    const resyncs: number[] = [];
    store.onResync(() => resyncs.push(Date.now()));
    await waitFor(() => store.isUp() && resyncs.length >= 1, 'the first connection');
    const port = redis.port;
    await redis.stop('SIGKILL');
    await waitFor(() => !store.isUp(), 'the store to notice the outage');
    // Every call answers "no answer" at once instead of queueing until Redis returns.
    assert.equal(await store.get('x'), undefined);
    assert.equal(await store.set('x', 'y', 1000), false);
    assert.equal(await store.publish('health', 'lost'), false);
    assert.equal(await store.setIfAbsent('lease', 'p1', 1000), false);
    assert.equal(await store.increment('epoch', 0), undefined);
    // Meanwhile another proxy (connected once Redis is back) reports the backend down...
    redis = await startRedisServer(port);
    const reporter = new SharedHealthStore(urls, PARAMS, open('outage:'));
    await waitFor(() => stores[stores.length - 1].isUp(), 'the reporter connection');
    reporter.reportTraffic(0, false, '503');
    // ...and the observer learns it, by message or by rereading the key after reconnecting.
    await waitFor(() => !observer.snapshot()[0].up, 'the observer to learn of the failure', 20_000);
    await waitFor(() => resyncs.length >= 2, 'a resync after the reconnection', 20_000);
  });
});
