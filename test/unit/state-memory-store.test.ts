import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
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
});
