import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import type { BackendHealth } from '../../src/health/health-state.js';
import { decideActive, NO_CHOICE, type ChoiceInput, type ChoiceMemory } from '../../src/state/active-choice.js';
import { ActiveElection } from '../../src/state/active-election.js';
import { MemoryBackplane, MemoryStateStore } from '../../src/state/memory-state-store.js';
import type { StateStore } from '../../src/state/state-store.js';

const NAMES = ['a', 'b', 'c'];
const auto = { mode: 'auto', delayMs: 5000 } as const;
const manual = { mode: 'manual', delayMs: 5000 } as const;

describe('decideActive: the leader choosing the active backend', () => {
  interface Row {
    what: string;
    unreachable: string[];
    previous: ChoiceMemory;
    policy?: ChoiceInput['policy'];
    failbackRequested?: boolean;
    active: string;
  }
  const now = 100_000;
  const clear = (since: number) => ({ a: since, b: since, c: since });
  const rows: Row[] = [
    { what: 'first choice: the first backend', unreachable: [], previous: NO_CHOICE, active: 'a' },
    { what: 'first choice skips a backend some proxy cannot reach', unreachable: ['a'], previous: NO_CHOICE, active: 'b' },
    { what: 'keeps the previous choice while nobody reports it', unreachable: [], previous: { active: 'b', clearSince: clear(now - 10) }, active: 'b' },
    { what: 'leaves the previous choice once a proxy reports it', unreachable: ['b'], previous: { active: 'b', clearSince: clear(0) }, active: 'a' },
    { what: 'goes down the priority order past reported ones', unreachable: ['a', 'b'], previous: { active: 'a', clearSince: clear(0) }, active: 'c' },
    { what: 'auto failback once the better one has gone unreported for delayMs', unreachable: [], previous: { active: 'b', clearSince: clear(now - 5000) }, active: 'a' },
    { what: 'no auto failback before delayMs', unreachable: [], previous: { active: 'b', clearSince: { a: now - 4999, b: 0, c: 0 } }, active: 'b' },
    { what: 'a new leader (no history) waits the whole delay', unreachable: [], previous: { active: 'b', clearSince: {} }, active: 'b' },
    { what: 'no failback to a backend still reported', unreachable: ['a'], previous: { active: 'c', clearSince: clear(0) }, active: 'b' },
    { what: 'manual: stays without a request', unreachable: [], previous: { active: 'b', clearSince: clear(0) }, policy: manual, active: 'b' },
    { what: 'manual: fails back on request', unreachable: [], previous: { active: 'c', clearSince: clear(now) }, policy: manual, failbackRequested: true, active: 'a' },
    { what: 'manual request skips a reported backend', unreachable: ['a'], previous: { active: 'c', clearSince: clear(now) }, policy: manual, failbackRequested: true, active: 'b' },
    { what: 'all reported: keeps the previous choice', unreachable: ['a', 'b', 'c'], previous: { active: 'b', clearSince: clear(0) }, active: 'b' },
    { what: 'all reported, no previous: the first backend', unreachable: ['a', 'b', 'c'], previous: NO_CHOICE, active: 'a' },
    { what: 'a previous choice no longer configured counts as none', unreachable: ['a'], previous: { active: 'gone', clearSince: {} }, active: 'b' },
  ];
  for (const row of rows) {
    it(row.what, () => {
      const input: ChoiceInput = { names: NAMES, unreachable: new Set(row.unreachable), policy: row.policy ?? auto, now, failbackRequested: row.failbackRequested };
      assert.equal(decideActive(input, row.previous).active, row.active);
    });
  }

  it('tracks since when each backend has gone unreported', () => {
    const input = (unreachable: string[], at: number): ChoiceInput => ({ names: NAMES, unreachable: new Set(unreachable), policy: auto, now: at });
    let memory = decideActive(input(['a'], 1000), NO_CHOICE);
    assert.deepEqual(memory, { active: 'b', clearSince: { b: 1000, c: 1000 } });
    memory = decideActive(input([], 2000), memory);
    assert.deepEqual(memory.clearSince, { a: 2000, b: 1000, c: 1000 });
    assert.equal(decideActive(input([], 6999), memory).active, 'b');
    assert.equal(decideActive(input([], 7000), memory).active, 'a');
  });
});

/** A StateStore that can be cut off, as Redis going down: every call then fails at once. */
class Switchable implements StateStore {
  down = false;
  constructor(private readonly inner: MemoryStateStore) {}
  private run<T>(fallback: T, call: () => Promise<T>): Promise<T> {
    return this.down ? Promise.resolve(fallback) : call();
  }
  get = (k: string) => this.run(undefined, () => this.inner.get(k));
  set = (k: string, v: string, t: number) => this.run(false, () => this.inner.set(k, v, t));
  delete = (k: string) => this.run(false, () => this.inner.delete(k));
  setIfAbsent = (k: string, v: string, t: number) => this.run(false, () => this.inner.setIfAbsent(k, v, t));
  renewIfEqual = (k: string, v: string, t: number) => this.run(false, () => this.inner.renewIfEqual(k, v, t));
  deleteIfEqual = (k: string, v: string) => this.run(false, () => this.inner.deleteIfEqual(k, v));
  increment = (k: string, f: number) => this.run(undefined, () => this.inner.increment(k, f));
  setIfGuard = (g: string, gv: string, k: string, v: string, t: number) => this.run(false, () => this.inner.setIfGuard(g, gv, k, v, t));
  publish = (c: string, m: string) => this.run(false, () => this.inner.publish(c, m));
  subscribe = (c: string, h: (m: string) => void) => this.inner.subscribe(c, (m) => !this.down && h(m));
  onResync = (h: () => void) => this.inner.onResync(h);
  close = () => this.inner.close();
}

const healthy: BackendHealth = { up: true, streak: 0, since: 0, passiveErrors: 0 };
const unreachable: BackendHealth = { up: false, streak: 0, since: 1, passiveErrors: 0, lastCheck: { ok: false, at: 1, detail: 'ECONNREFUSED' } };
const LEASE_MS = 60_000; // the heartbeat timer never fires in these tests: they drive it

const settle = async () => {
  for (let i = 0; i < 20; i++) await tick();
};

function cluster(count: number) {
  let now = 1_000_000;
  const clock = () => now;
  const plane = new MemoryBackplane(clock);
  const proxies = Array.from({ length: count }, () => {
    const health: BackendHealth[] = NAMES.map(() => healthy);
    const store = new Switchable(new MemoryStateStore(plane));
    const election = new ActiveElection({ names: NAMES, leaseMs: LEASE_MS, failback: manual, store, health: () => health, logger: pino({ level: 'silent' }), clock });
    return { health, store, election };
  });
  return { proxies, plane, advance: (ms: number) => void (now += ms) };
}

const actives = (proxies: { election: ActiveElection }[]) => proxies.map((p) => p.election.choice()?.active);

describe('ActiveElection (proxies on one memory backplane)', () => {
  it('elects one leader whose choice every proxy follows, and moves all when one proxy cannot reach it', async () => {
    const { proxies } = cluster(2);
    await settle(); // the resync at start runs one heartbeat on each
    const [p1, p2] = proxies;
    assert.deepEqual(actives(proxies), [0, 0]);
    assert.deepEqual([p1.election.status().role, p2.election.status().role], ['leader', 'follower']);
    p2.health[0] = unreachable; // a partition seen by the follower alone
    p2.election.healthChanged();
    await settle();
    assert.deepEqual(actives(proxies), [1, 1], 'the leader excludes what a follower cannot reach');
    assert.deepEqual(p2.election.status().unreachable, ['a']);
    for (const p of proxies) await p.election.close();
  });

  it('hands the lease on when the leader goes, keeping the choice and raising the epoch', async () => {
    const { proxies } = cluster(2);
    await settle();
    const [p1, p2] = proxies;
    p1.health[0] = unreachable;
    p1.election.healthChanged();
    await settle();
    const epoch = p2.election.choice()!.epoch;
    p1.health[0] = healthy;
    await p1.election.close(); // releases the lease
    p2.election.healthChanged();
    await settle();
    assert.equal(p2.election.status().role, 'leader');
    assert.equal(p2.election.choice()!.epoch, epoch + 1);
    assert.equal(p2.election.choice()!.active, 1, 'manual failback: the new leader stays on b');
    await p2.election.close();
  });

  it('ignores a late message from an older leadership, and a choice it cannot route to', async () => {
    const { proxies, plane } = cluster(1);
    await settle();
    const [p1] = proxies;
    const epoch = p1.election.choice()!.epoch;
    plane.publish('election', JSON.stringify({ type: 'choice', record: { active: 'c', epoch: epoch - 1, leader: 'old', unreachable: [] } }));
    await settle();
    assert.equal(p1.election.choice()!.active, 0);
    plane.publish('election', JSON.stringify({ type: 'choice', record: { active: 'zzz', epoch: epoch + 1, leader: 'odd', unreachable: [] } }));
    await settle();
    assert.equal(p1.election.choice()!.active, 0, 'a backend this proxy does not know is not followed');
    await p1.election.close();
  });

  it('with the store down, drops a choice after two leases and routes on its own view', async () => {
    const { proxies, advance } = cluster(2);
    await settle();
    const [, p2] = proxies;
    const changes: (number | undefined)[] = [];
    p2.election.onChange(() => changes.push(p2.election.choice()?.active));
    p2.store.down = true;
    advance(2 * LEASE_MS - 1);
    p2.election.healthChanged();
    await settle();
    assert.equal(p2.election.choice()?.active, 0, 'still fresh');
    advance(1);
    p2.election.healthChanged();
    await settle();
    assert.equal(p2.election.choice(), undefined);
    assert.equal(p2.election.status().role, 'local');
    assert.deepEqual(changes, [undefined]);
    p2.store.down = false;
    p2.election.healthChanged();
    await settle();
    assert.equal(p2.election.choice()?.active, 0, 'follows again once the store answers');
    for (const p of proxies) await p.election.close();
  });
});
