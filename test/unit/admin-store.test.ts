// Admin states shared through a StateStore, worker mirroring, readiness and the /status pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialAdmin, type BackendAdmin } from '../../src/health/admin-state.js';
import { trafficTotals } from '../../src/proxy/admin/traffic-totals.js';
import { servingProblem } from '../../src/proxy/proxy-admin.js';
import { displayState } from '../../src/proxy/proxy-status.js';
import { MemoryBackplane, MemoryStateStore } from '../../src/state/memory-state-store.js';
import { adminKey, SharedAdminStore } from '../../src/state/shared-admin-store.js';
import type { StateStore } from '../../src/state/state-store.js';
import { AdminHub, WorkerAdminStore } from '../../src/state/worker-admin.js';
import type { Port } from '../../src/state/worker-health.js';

const tick = () => new Promise((r) => setImmediate(r));
const drain = (at: number): BackendAdmin => ({ state: 'drain', weight: 1, at, reason: 'test' });

/** A store that is down (every write refused) until `up` is set, then resyncs like Redis after a reconnect. */
function flakyStore(inner: MemoryStateStore): StateStore & { up: boolean; reconnect(): void } {
  const resyncs: (() => void)[] = [];
  const flaky = Object.create(inner) as StateStore & { up: boolean; reconnect(): void };
  flaky.up = false;
  flaky.set = (k, v, ttl) => (flaky.up ? inner.set(k, v, ttl) : Promise.resolve(false));
  flaky.publish = (c, m) => (flaky.up ? inner.publish(c, m) : Promise.resolve(false));
  flaky.onResync = (h) => void resyncs.push(h);
  flaky.reconnect = () => {
    flaky.up = true;
    for (const h of resyncs) h();
  };
  return flaky;
}

describe('shared admin states', () => {
  it('a change on one proxy reaches the other by message, and a proxy started later by the key', async () => {
    const backplane = new MemoryBackplane();
    const one = new SharedAdminStore(['a', 'b'], [1, 1], new MemoryStateStore(backplane));
    const two = new SharedAdminStore(['a', 'b'], [1, 1], new MemoryStateStore(backplane));
    const seen: string[] = [];
    two.onChange((i, admin) => seen.push(`${i}:${admin.state}`));
    one.apply(0, drain(100));
    await tick();
    assert.equal(two.snapshot()[0].state, 'drain');
    assert.deepEqual(seen, ['0:drain']);
    const late = new SharedAdminStore(['a', 'b'], [1, 1], new MemoryStateStore(backplane));
    await tick();
    await tick();
    assert.equal(late.snapshot()[0].state, 'drain');
    assert.equal(late.snapshot()[1].state, 'ready');
  });

  it('an older record never replaces a newer change', async () => {
    const backplane = new MemoryBackplane();
    const store = new MemoryStateStore(backplane);
    await store.set(adminKey('a'), JSON.stringify({ ...drain(50), origin: 'other', name: 'a' }), 60_000);
    const local = new SharedAdminStore(['a'], [1], new MemoryStateStore(backplane));
    local.apply(0, { ...initialAdmin(1), at: 100, reason: 'ready again' });
    await local.resync();
    assert.equal(local.snapshot()[0].state, 'ready');
  });

  it('a change made while the store is down holds and is written at the reconnection', async () => {
    const backplane = new MemoryBackplane();
    const flaky = flakyStore(new MemoryStateStore(backplane));
    const local = new SharedAdminStore(['a'], [1], flaky);
    local.apply(0, drain(100));
    await tick();
    assert.equal(await new MemoryStateStore(backplane).get(adminKey('a')), undefined, 'nothing written while down');
    flaky.reconnect();
    await tick();
    assert.equal(local.snapshot()[0].state, 'drain', 'the local change was kept');
    const written = JSON.parse((await new MemoryStateStore(backplane).get(adminKey('a')))!) as BackendAdmin;
    assert.equal(written.state, 'drain');
  });
});

describe('admin states across workers', () => {
  it('the hub sends the table to a worker at once and every change after', () => {
    const toWorker: ((m: unknown) => void)[] = [];
    const toPrimary: ((m: unknown) => void)[] = [];
    const primarySide: Port = { send: (m) => toWorker.forEach((h) => h(m)), onMessage: (h) => void toPrimary.push(h) };
    const workerSide: Port = { send: (m) => toPrimary.forEach((h) => h(m)), onMessage: (h) => void toWorker.push(h) };
    const hub = new AdminHub(new SharedAdminStore(['a', 'b'], [1, 2], new MemoryStateStore()));
    hub.apply(1, { ...drain(5), weight: 2 });
    const worker = new WorkerAdminStore([1, 2], workerSide);
    hub.attach(primarySide);
    assert.equal(worker.snapshot()[1].state, 'drain', 'the table on attach');
    hub.apply(0, { state: 'maint', weight: 1, at: 6, reason: 'x' });
    assert.deepEqual(worker.snapshot().map((a) => a.state), ['maint', 'drain']);
    assert.equal(worker.snapshot()[1].weight, 2);
  });
});

describe('readiness and status', () => {
  const up = { up: true, streak: 0, since: 0, passiveErrors: 0 };
  const down = { ...up, up: false };
  it('is not ready when no healthy backend is ready', () => {
    assert.equal(servingProblem([up, up], [drain(1), initialAdmin(1)]), undefined);
    assert.equal(servingProblem([up, down], [drain(1), initialAdmin(1)]), 'every healthy backend is drained or in maintenance');
    assert.equal(servingProblem([down, down], [initialAdmin(1), initialAdmin(1)]), 'no healthy backend');
  });

  it('shows MAINT over health, DRAIN only when up', () => {
    assert.deepEqual(
      [displayState(true, 'ready'), displayState(false, 'ready'), displayState(true, 'drain'), displayState(false, 'drain'), displayState(false, 'maint')],
      ['UP', 'DOWN', 'DRAIN', 'DOWN', 'MAINT'],
    );
  });

  it('sums per-backend traffic from the metrics text', () => {
    const text = [
      'haproxy_server_http_responses_total{server="a",code="2xx"} 7',
      'haproxy_server_http_responses_total{server="a",code="5xx"} 2',
      'haproxy_server_failures_total{server="a",cause="connect"} 1',
      'haproxy_server_bytes_in_total{server="a"} 100',
      'haproxy_server_bytes_out_total{server="a"} 2048',
      'haproxy_server_bytes_out_total{server="x\\"y"} 5',
      '# HELP haproxy_server_bytes_out_total whatever',
    ].join('\n');
    const totals = trafficTotals(text, ['a', 'b', 'x"y']);
    assert.deepEqual(totals.get('a'), { responses: 9, errors: 3, bytesIn: 100, bytesOut: 2048 });
    assert.deepEqual(totals.get('b'), { responses: 0, errors: 0, bytesIn: 0, bytesOut: 0 });
    assert.equal(totals.get('x"y')!.bytesOut, 5);
  });
});
