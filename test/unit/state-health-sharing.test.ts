import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { HealthParams } from '../../src/health/health-state.js';
import { LocalHealthStore, type ElectionView, type SharedChoice } from '../../src/health/health-store.js';
import { MemoryBackplane, MemoryStateStore } from '../../src/state/memory-state-store.js';
import { downKey, SharedHealthStore, shouldAdopt } from '../../src/state/shared-health-store.js';
import { HealthHub, WorkerHealthStore, type Port } from '../../src/state/worker-health.js';

const PARAMS: HealthParams = { rise: 2, fall: 2, errorLimit: 2, intervalMs: 1000, fastIntervalMs: 100, downIntervalMs: 1000, jitter: 0 };
const URLS = ['http://a:5000', 'http://b:5000'];

function clock(start = 10_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await tick();
};

describe('health shared between proxies', () => {
  it('marks a backend down on every proxy when one proxy sees it fail', async () => {
    const c = clock();
    const plane = new MemoryBackplane(c.now);
    const p1 = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    const p2 = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    const seen: string[] = [];
    p2.onTransition((i, t) => seen.push(`${i}:${t.to}:${t.detail}`));
    await flush();
    c.advance(10);
    p1.reportTraffic(0, false, 'ECONNREFUSED');
    p1.reportTraffic(0, false, 'ECONNREFUSED');
    await flush();
    assert.equal(p1.snapshot()[0].up, false);
    assert.equal(p2.snapshot()[0].up, false);
    assert.equal(p2.snapshot()[1].up, true);
    assert.deepEqual(seen, ['0:down:reported down by another proxy: ECONNREFUSED']);
  });

  it('brings a backend back only through each proxy own checks', async () => {
    const c = clock();
    const plane = new MemoryBackplane(c.now);
    const p1 = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    const p2 = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    await flush();
    c.advance(10);
    p1.reportCheck(0, false, 'timeout');
    p1.reportCheck(0, false, 'timeout');
    await flush();
    assert.equal(p2.snapshot()[0].up, false);
    p1.reportCheck(0, true, 'status 200');
    p1.reportCheck(0, true, 'status 200');
    await flush();
    assert.equal(p1.snapshot()[0].up, true);
    assert.equal(p2.snapshot()[0].up, false, 'recovery is not shared');
    p2.reportCheck(0, true, 'status 200');
    p2.reportCheck(0, true, 'status 200');
    assert.equal(p2.snapshot()[0].up, true);
  });

  it('learns of a failure it missed from the key when it (re)connects, but not one it already recovered from', async () => {
    const c = clock();
    const plane = new MemoryBackplane(c.now);
    const p1 = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    await flush();
    c.advance(10);
    p1.reportTraffic(1, false, '503');
    p1.reportTraffic(1, false, '503');
    assert.ok(plane.get(`${downKey(URLS[1])}`), 'the report is kept in a key with a TTL');
    // A proxy that starts afterwards (and so missed the message) reads the key on its first resync.
    const late = new SharedHealthStore(URLS, PARAMS, new MemoryStateStore(plane), c.now);
    await flush();
    assert.equal(late.snapshot()[1].up, false);
    // It recovers through its checks; a later resync must not take the backend down again.
    c.advance(10);
    late.reportCheck(1, true, 'ok');
    late.reportCheck(1, true, 'ok');
    assert.equal(late.snapshot()[1].up, true);
    await late.resync();
    assert.equal(late.snapshot()[1].up, true);
  });

  it('adopts only reports from others that are newer than its own last change', () => {
    const up = { up: true, streak: 0, since: 500, passiveErrors: 0 };
    const report = { origin: 'other', url: URLS[0], at: 600, detail: 'x' };
    assert.equal(shouldAdopt(up, report, 'me'), true);
    assert.equal(shouldAdopt(up, { ...report, origin: 'me' }, 'me'), false);
    assert.equal(shouldAdopt(up, { ...report, at: 400 }, 'me'), false);
    assert.equal(shouldAdopt({ ...up, up: false }, report, 'me'), false);
  });
});

/** Two connected ends of an IPC channel; messages are copied and arrive on a later tick, as over IPC. */
function portPair(): [Port, Port] {
  const left = new EventEmitter();
  const right = new EventEmitter();
  const sent = { left: 0, right: 0 };
  const end = (mine: EventEmitter, theirs: EventEmitter, side: 'left' | 'right'): Port => ({
    send: (m) => {
      sent[side]++;
      const copy = structuredClone(m);
      queueMicrotask(() => theirs.emit('message', copy));
    },
    onMessage: (h) => void mine.on('message', h),
  });
  const pair: [Port, Port] & { sent?: typeof sent } = [end(left, right, 'left'), end(right, left, 'right')];
  return Object.assign(pair, { sent });
}

describe('health shared between the workers of one proxy', () => {
  it('gives every worker the primary snapshot, and a failure seen by one worker counts for all', async () => {
    const hub = new HealthHub(new LocalHealthStore(2, PARAMS));
    const [toW1, fromPrimary1] = portPair();
    const [toW2, fromPrimary2] = portPair();
    const w1 = new WorkerHealthStore(2, PARAMS, fromPrimary1);
    const w2 = new WorkerHealthStore(2, PARAMS, fromPrimary2);
    hub.attach(toW1);
    hub.attach(toW2);
    const events: string[] = [];
    w2.onTransition((i, t) => events.push(`${i}:${t.to}:${t.reason}`));
    await flush();
    // errorLimit 2: one failure in each worker is two consecutive failures for the backend.
    w1.reportTraffic(0, false, 'ECONNRESET');
    await flush();
    w2.reportTraffic(0, false, 'ECONNRESET');
    await flush();
    assert.equal(hub.snapshot()[0].up, false);
    assert.equal(w1.snapshot()[0].up, false);
    assert.equal(w2.snapshot()[0].up, false);
    assert.deepEqual(events, ['0:down:passive']);
    // Active checks in the primary bring it back, and the workers follow.
    hub.reportCheck(0, true, 'status 200');
    await flush();
    assert.equal(w1.snapshot()[0].streak, 1, 'progress that is not yet a transition reaches the workers too');
    hub.reportCheck(0, true, 'status 200');
    await flush();
    assert.equal(w1.snapshot()[0].up, true);
    assert.deepEqual(events, ['0:down:passive', '0:up:check']);
  });

  it('while a reload gives the primary and a worker different lists, states and reports travel by backend name', async () => {
    const hub = new HealthHub(new LocalHealthStore(2, PARAMS), ['a', 'b']);
    const [toWorker, fromPrimary] = portPair();
    // The worker already runs the new list (b first, then a new c); the primary still the old one.
    const worker = new WorkerHealthStore(2, PARAMS, fromPrimary, ['b', 'c']);
    hub.attach(toWorker);
    await flush();
    worker.reportTraffic(0, false, 'ECONNRESET');
    await flush();
    assert.deepEqual(hub.snapshot().map((h) => h.passiveErrors), [0, 1], "the worker's report about b counts for b, at b's position in the primary's list");
    hub.reportCheck(1, false, 'timeout');
    hub.reportCheck(1, false, 'timeout');
    await flush();
    assert.equal(hub.snapshot()[1].up, false);
    assert.equal(worker.snapshot()[0].up, false, "b's state lands on b's position in the worker's list");
    assert.equal(worker.snapshot()[1].up, true, 'c, unknown to the primary yet, keeps its start state');
    hub.reindex({ carry: [1, undefined], names: ['b', 'c'], urls: ['http://b', 'http://c'], params: PARAMS });
    await flush();
    assert.deepEqual(hub.snapshot().map((h) => h.up), [false, true]);
    assert.deepEqual(worker.snapshot().map((h) => h.up), [false, true]);
  });

  it('sends nothing to the primary for a success while no errors are being counted', async () => {
    const hub = new HealthHub(new LocalHealthStore(1, PARAMS));
    const pair = portPair() as [Port, Port] & { sent: { left: number; right: number } };
    const worker = new WorkerHealthStore(1, PARAMS, pair[1]);
    hub.attach(pair[0]);
    await flush();
    const before = pair.sent.right;
    for (let i = 0; i < 100; i++) worker.reportTraffic(0, true, 'ok');
    assert.equal(pair.sent.right, before);
    worker.reportTraffic(0, false, '502');
    await flush();
    assert.equal(hub.snapshot()[0].passiveErrors, 1);
    worker.reportTraffic(0, true, 'ok');
    await flush();
    assert.equal(hub.snapshot()[0].passiveErrors, 0, 'a success resets the count once errors were counted');
  });
});

describe('the elected active backend across the workers of one proxy', () => {
  it('reaches every worker with the snapshot, and so does its going stale', async () => {
    let choice: SharedChoice | undefined;
    const listeners: (() => void)[] = [];
    const inner = Object.assign(new LocalHealthStore(2, PARAMS), {
      election: { choice: () => choice, onChange: (l: () => void) => void listeners.push(l), requestFailback: () => {}, status: () => undefined, setNames: () => {} } satisfies ElectionView,
    });
    const hub = new HealthHub(inner);
    const [toWorker, fromPrimary] = portPair();
    const worker = new WorkerHealthStore(2, PARAMS, fromPrimary);
    const changes: (number | undefined)[] = [];
    worker.election.onChange(() => changes.push(worker.election.choice()?.active));
    hub.attach(toWorker);
    await flush();
    assert.equal(worker.election.choice(), undefined, 'no election result yet: the worker decides on its own view');
    choice = { active: 1, epoch: 3 };
    for (const l of listeners) l();
    await flush();
    assert.deepEqual(worker.election.choice(), choice);
    choice = undefined;
    for (const l of listeners) l();
    await flush();
    assert.equal(worker.election.choice(), undefined);
    assert.deepEqual(changes, [1, undefined]);
  });
});
