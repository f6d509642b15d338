import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendHealth } from '../../src/health/health-state.js';
import { INITIAL_STANDBY_STATE, standbyOrder, stepActiveStandby, type FailbackPolicy, type StandbyState } from '../../src/proxy/balancer/active-standby.js';
import { leastConnOrder } from '../../src/proxy/balancer/least-conn.js';
import { smoothWeightedPick } from '../../src/proxy/balancer/round-robin.js';

const up = (since = 0): BackendHealth => ({ up: true, streak: 0, since, passiveErrors: 0 });
const down = (since = 1): BackendHealth => ({ up: false, streak: 0, since, passiveErrors: 0 });
const auto: FailbackPolicy = { mode: 'auto', delayMs: 5000 };
const manual: FailbackPolicy = { mode: 'manual', delayMs: 5000 };

describe('active-standby', () => {
  it('sends everything to the first backend while it is healthy', () => {
    const step = stepActiveStandby(INITIAL_STANDBY_STATE, [up(), up()], 1000, auto);
    assert.equal(step.state.active, 0);
    assert.equal(step.event, undefined);
    assert.deepEqual(standbyOrder(0, [up(), up(), up()]), [0, 1, 2], 'standbys follow as retry targets');
  });

  it('fails over to the next healthy backend in priority order', () => {
    const step = stepActiveStandby({ active: 0 }, [down(900), down(900), up()], 1000, auto);
    assert.deepEqual(step.state, { active: 2 });
    assert.deepEqual(step.event, { kind: 'failover', from: 0, to: 2 });
    assert.deepEqual(standbyOrder(2, [down(), down(), up()]), [2]);
  });

  it('fails back automatically only after the primary has been UP for delayMs', () => {
    let state: StandbyState = { active: 1 };
    const health = [up(10_000), up()];
    let step = stepActiveStandby(state, health, 14_999, auto);
    assert.equal(step.state.active, 1, 'back for 4.999 s: not trusted yet');
    state = step.state;
    step = stepActiveStandby(state, health, 15_000, auto);
    assert.deepEqual(step.event, { kind: 'failback', from: 1, to: 0 });
  });

  it('never fails back on its own in manual mode, but does when asked', () => {
    const health = [up(10_000), up()];
    assert.equal(stepActiveStandby({ active: 1 }, health, 1_000_000, manual).state.active, 1);
    const step = stepActiveStandby({ active: 1 }, health, 1_000_000, manual, true);
    assert.deepEqual(step.event, { kind: 'failback', from: 1, to: 0 });
  });

  it('picks the primary at once when it is the only healthy backend, whatever the delay', () => {
    const step = stepActiveStandby({ active: 1 }, [up(999), down(999)], 1000, auto);
    assert.deepEqual(step.event, { kind: 'failover', from: 1, to: 0 });
  });

  it('has no active backend while all are down, and activates the first that returns', () => {
    let step = stepActiveStandby({ active: 0 }, [down(), down()], 1000, auto);
    assert.deepEqual(step.event, { kind: 'deactivate', from: 0, to: undefined });
    assert.deepEqual(standbyOrder(step.state.active, [down(), down()]), []);
    step = stepActiveStandby(step.state, [down(), up(2000)], 2000, auto);
    assert.deepEqual(step.event, { kind: 'activate', from: undefined, to: 1 });
  });
});

describe('smooth weighted round robin', () => {
  function sequence(weights: number[], eligible: boolean[], n: number): number[] {
    let scores = weights.map(() => 0);
    const picks: number[] = [];
    for (let i = 0; i < n; i++) {
      const pick = smoothWeightedPick(scores, weights, eligible);
      scores = pick.scores;
      picks.push(pick.order[0]);
    }
    return picks;
  }

  it('alternates equal backends', () => {
    assert.deepEqual(sequence([1, 1], [true, true], 4), [0, 1, 0, 1]);
  });

  it('interleaves weights 5:1:1 without bursts', () => {
    assert.deepEqual(sequence([5, 1, 1], [true, true, true], 7), [0, 0, 1, 0, 2, 0, 0]);
  });

  it('honours weight ratios over many picks', () => {
    const picks = sequence([3, 1], [true, true], 400);
    assert.equal(picks.filter((p) => p === 0).length, 300);
  });

  it('skips unhealthy backends and lists the others as retry targets', () => {
    assert.deepEqual(sequence([1, 1, 1], [true, false, true], 4), [0, 2, 0, 2]);
    const pick = smoothWeightedPick([0, 0, 0], [1, 1, 1], [true, true, true]);
    assert.deepEqual(pick.order, [0, 1, 2]);
    assert.deepEqual(smoothWeightedPick([0, 0], [1, 1], [false, false]).order, []);
  });
});

describe('leastconn', () => {
  it('prefers the backend with the fewest requests in flight per weight', () => {
    assert.deepEqual(leastConnOrder([5, 1, 3], [1, 1, 1], [true, true, true], 0), [1, 2, 0]);
    assert.deepEqual(leastConnOrder([4, 3], [4, 1], [true, true], 0), [0, 1], '4/4 < 3/1');
  });

  it('rotates among equally loaded backends and skips unhealthy ones', () => {
    assert.deepEqual(leastConnOrder([0, 0, 0], [1, 1, 1], [true, true, true], 1), [1, 2, 0]);
    assert.deepEqual(leastConnOrder([0, 0, 0], [1, 1, 1], [true, false, true], 1), [2, 0]);
  });
});
