import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { LeaseKeeper } from '../../src/state/lease-keeper.js';
import { MemoryBackplane, MemoryStateStore } from '../../src/state/memory-state-store.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('memory state store', () => {
  it('forgets a key once its TTL has passed', async () => {
    const clock = fakeClock();
    const store = new MemoryStateStore(new MemoryBackplane(clock.now));
    assert.equal(await store.set('k', 'v', 100), true);
    assert.equal(await store.get('k'), 'v');
    clock.advance(99);
    assert.equal(await store.get('k'), 'v');
    clock.advance(1);
    assert.equal(await store.get('k'), undefined);
  });

  it('delivers published messages to every subscriber of the backplane, the publisher included', async () => {
    const plane = new MemoryBackplane();
    const a = new MemoryStateStore(plane);
    const b = new MemoryStateStore(plane);
    const seen: string[] = [];
    a.subscribe('ch', (m) => seen.push(`a:${m}`));
    b.subscribe('ch', (m) => seen.push(`b:${m}`));
    b.subscribe('other', (m) => seen.push(`other:${m}`));
    await a.publish('ch', 'hello');
    await tick();
    assert.deepEqual(seen.sort(), ['a:hello', 'b:hello']);
    await b.close();
    await a.publish('ch', 'again');
    await tick();
    assert.deepEqual(seen.sort(), ['a:again', 'a:hello', 'b:hello']);
  });

  it('grants a lease to one holder at a time and lets only the holder renew or release it', async () => {
    const clock = fakeClock();
    const plane = new MemoryBackplane(clock.now);
    const a = new MemoryStateStore(plane);
    const b = new MemoryStateStore(plane);
    const leaseA = await a.acquireLease('leader', 1000);
    assert.ok(leaseA);
    assert.equal(await b.acquireLease('leader', 1000), undefined);
    clock.advance(900);
    assert.equal(await leaseA.renew(), true);
    clock.advance(900);
    assert.equal(await b.acquireLease('leader', 1000), undefined, 'the renewal extended the lease');
    clock.advance(200);
    const leaseB = await b.acquireLease('leader', 1000);
    assert.ok(leaseB, 'an expired lease can be taken over');
    assert.equal(await leaseA.renew(), false, 'the old holder cannot extend the new holder lease');
    assert.equal(await leaseA.release(), false, 'nor delete it');
    assert.equal(await a.get('leader'), leaseB.token);
    assert.equal(await leaseB.release(), true);
    assert.equal(await a.get('leader'), undefined);
  });
});

describe('lease keeper', () => {
  it('holds the lease, hands it over on stop, and the other keeper takes it', async () => {
    const plane = new MemoryBackplane();
    const events: string[] = [];
    const first = new LeaseKeeper(new MemoryStateStore(plane), { name: 'leader', ttlMs: 60, onAcquired: () => events.push('first') });
    const second = new LeaseKeeper(new MemoryStateStore(plane), { name: 'leader', ttlMs: 60, onAcquired: () => events.push('second') });
    first.start();
    await waitFor(() => first.held());
    second.start();
    // Several renewal periods pass without the second keeper getting the lease.
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(second.held(), false);
    assert.deepEqual(events, ['first']);
    await first.stop();
    await waitFor(() => second.held());
    assert.deepEqual(events, ['first', 'second']);
    await second.stop();
  });

  it('steps down when a renewal fails', async () => {
    const clock = fakeClock();
    const plane = new MemoryBackplane(clock.now);
    const store = new MemoryStateStore(plane);
    let lost = 0;
    const keeper = new LeaseKeeper(store, { name: 'leader', ttlMs: 30, onLost: () => lost++ });
    keeper.start();
    await waitFor(() => keeper.held());
    // Someone deletes the key (as an expiry during a Redis outage would): the next renewal fails.
    plane.delete('leader');
    plane.set('leader', 'someone-else', 60_000);
    await waitFor(() => lost === 1);
    assert.equal(keeper.held(), false);
    await keeper.stop();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
