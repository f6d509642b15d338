import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyCheck, applyTraffic, initialHealth, nextCheckDelay, type BackendHealth, type HealthParams } from '../../src/health/health-state.js';
import { LocalHealthStore } from '../../src/health/health-store.js';

const params: HealthParams = { rise: 2, fall: 3, errorLimit: 3, intervalMs: 2000, fastIntervalMs: 500, downIntervalMs: 4000, jitter: 0 };

function run(h: BackendHealth, results: boolean[], p = params): { health: BackendHealth; transitions: string[] } {
  const transitions: string[] = [];
  let now = 1000;
  for (const ok of results) {
    const step = applyCheck(h, ok, p, (now += 100), ok ? 'status 200' : 'timeout');
    h = step.health;
    if (step.transition) transitions.push(`${step.transition.to}@${step.transition.count}`);
  }
  return { health: h, transitions };
}

describe('health state machine', () => {
  it('starts UP on probation: the first failed check takes a backend down', () => {
    const { health, transitions } = run(initialHealth(params), [false]);
    assert.equal(health.up, false);
    assert.deepEqual(transitions, ['down@3']);
  });

  it('keeps a backend that passes its first check UP, then needs `fall` consecutive failures', () => {
    const { health, transitions } = run(initialHealth(params), [true, false, false, true, false, false]);
    assert.equal(health.up, true, 'failures were never 3 in a row');
    assert.deepEqual(transitions, []);
    const after = run(health, [false]);
    assert.equal(after.health.up, false);
    assert.deepEqual(after.transitions, ['down@3']);
  });

  it('brings a DOWN backend back after `rise` consecutive successes, not before', () => {
    const down = run(initialHealth(params), [false]).health;
    const { health, transitions } = run(down, [true, false, true, true]);
    assert.deepEqual(transitions, ['up@2']);
    assert.equal(health.up, true);
    assert.equal(health.streak, 0);
  });

  it('records when the state changed, for failback delays', () => {
    const step = applyCheck(initialHealth(params), false, params, 5000, 'ECONNREFUSED');
    assert.equal(step.health.since, 5000);
    assert.deepEqual(step.health.lastCheck, { ok: false, at: 5000, detail: 'ECONNREFUSED' });
  });

  it('marks an UP backend down at once after errorLimit consecutive traffic failures', () => {
    let h = run(initialHealth(params), [true]).health;
    h = applyTraffic(h, false, params, 1, '502').health;
    h = applyTraffic(h, false, params, 2, '502').health;
    h = applyTraffic(h, true, params, 3, '').health;
    assert.equal(h.passiveErrors, 0, 'a success resets the count');
    h = applyTraffic(h, false, params, 4, 'RESET').health;
    h = applyTraffic(h, false, params, 5, 'RESET').health;
    const step = applyTraffic(h, false, params, 6, 'RESET');
    assert.equal(step.health.up, false);
    assert.deepEqual(step.transition, { to: 'down', reason: 'passive', detail: 'RESET', count: 3 });
  });

  it('ignores passive failures when errorLimit is 0 or the backend is already down', () => {
    const h = run(initialHealth(params), [true]).health;
    assert.equal(applyTraffic(h, false, { ...params, errorLimit: 0 }, 1, 'x').health, h);
    const down = run(initialHealth(params), [false]).health;
    assert.equal(applyTraffic(down, false, params, 1, 'x').health, down);
  });

  it('returns the same object for a success that changes nothing (no allocation on the hot path)', () => {
    const h = run(initialHealth(params), [true]).health;
    assert.equal(applyTraffic(h, true, params, 1, '').health, h);
  });

  it('checks fast while a state change is under way, slowly when stable', () => {
    const up = run(initialHealth(params), [true]).health;
    assert.equal(nextCheckDelay(up, params), 2000);
    assert.equal(nextCheckDelay(applyCheck(up, false, params, 1, 'x').health, params), 500, 'one failure: changing');
    const down = run(initialHealth(params), [false]).health;
    assert.equal(nextCheckDelay(down, params), 4000, 'stable DOWN: downInterval');
    assert.equal(nextCheckDelay(applyCheck(down, true, params, 1, 'ok').health, params), 500, 'rising');
    const passive = applyTraffic(applyTraffic(applyTraffic(up, false, params, 1, 'x').health, false, params, 2, 'x').health, false, params, 3, 'x').health;
    assert.equal(nextCheckDelay(passive, params), 500, 'just marked down by traffic: probe fast');
  });

  it('spreads checks by +/- jitter', () => {
    const up = run(initialHealth(params), [true]).health;
    const p = { ...params, jitter: 0.1 };
    assert.equal(nextCheckDelay(up, p, () => 0), 1800);
    assert.equal(nextCheckDelay(up, p, () => 1), 2200);
    assert.equal(nextCheckDelay(up, p, () => 0.5), 2000);
  });

  it('tells listeners of the local store about each transition once', () => {
    const store = new LocalHealthStore(2, params, () => 42);
    const seen: string[] = [];
    store.onTransition((i, t) => seen.push(`${i}:${t.to}:${t.reason}`));
    store.reportCheck(1, false, 'ECONNREFUSED');
    store.reportCheck(1, false, 'ECONNREFUSED');
    store.reportCheck(0, true, 'status 200');
    assert.deepEqual(seen, ['1:down:check']);
    assert.equal(store.snapshot()[1].since, 42);
    assert.equal(store.snapshot()[0].up, true);
  });
});
