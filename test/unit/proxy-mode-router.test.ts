import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendHealth } from '../../src/health/health-state.js';
import { describeBackends } from '../../src/proxy/backend.js';
import type { StandbyEvent } from '../../src/proxy/balancer/active-standby.js';
import { createModeRouter, type ModeConfig } from '../../src/proxy/mode-router.js';
import type { RequestFacts, RoutingContext } from '../../src/proxy/route-decision.js';

const facts: RequestFacts = { method: 'GET', url: '/v2/', path: '/v2/', query: '', headers: {}, hasBody: false };
const backends = describeBackends(
  [
    { name: 'a', url: 'http://127.0.0.1:5001', weight: 2 },
    { name: 'b', url: 'http://127.0.0.1:5002', weight: 1 },
    { name: 'c', url: 'http://127.0.0.1:5003', weight: 1 },
  ],
);

const up: BackendHealth = { up: true, streak: 0, since: 0, passiveErrors: 0 };
const down: BackendHealth = { up: false, streak: 0, since: 1000, passiveErrors: 0 };
const ctx = (health: BackendHealth[], now = 10_000, inflight = [0, 0, 0]): RoutingContext => ({ backends, health, inflight, now });
const names = (list: readonly { name: string }[]) => list.map((b) => b.name).join('');

const standby: ModeConfig = { mode: 'active-standby', balance: 'roundrobin', retries: 2, failback: { mode: 'auto', delayMs: 5000 } };

describe('mode router', () => {
  it('active-standby: the active backend first, the healthy standbys after it as retry targets', () => {
    const router = createModeRouter(standby);
    const decision = router.route(facts, ctx([up, up, up]));
    assert.equal(names(decision.candidates), 'abc');
    assert.equal(decision.retries, 2);
  });

  it('active-standby: reports failover and failback once each, as they happen', () => {
    const events: StandbyEvent[] = [];
    const router = createModeRouter(standby, (e) => events.push(e));
    assert.equal(names(router.route(facts, ctx([down, up, up], 10_000)).candidates), 'bc');
    assert.equal(names(router.route(facts, ctx([down, up, up], 10_001)).candidates), 'bc');
    const back: BackendHealth = { ...up, since: 20_000 };
    assert.equal(names(router.route(facts, ctx([back, up, up], 24_000)).candidates), 'bac', 'primary back but not yet trusted');
    assert.equal(names(router.route(facts, ctx([back, up, up], 25_000)).candidates), 'abc');
    assert.deepEqual(events.map((e) => e.kind), ['failover', 'failback']);
  });

  it('active-standby: follows the elected backend while there is one, and its own view without', () => {
    const events: StandbyEvent[] = [];
    const router = createModeRouter(standby, (e) => events.push(e));
    const elected = (active: number, health: BackendHealth[]): RoutingContext => ({ ...ctx(health), elected: { active } });
    assert.equal(names(router.route(facts, elected(1, [up, up, up])).candidates), 'bac', 'b although a is healthy here');
    // This proxy cannot reach the choice: it reports that (the election's job) instead of moving alone.
    assert.equal(names(router.route(facts, elected(1, [up, down, up])).candidates), 'bac');
    assert.equal(names(router.route(facts, ctx([up, up, up], 10_000)).candidates), 'abc', 'no choice: its own view');
    assert.deepEqual(events, [
      { kind: 'failover', from: 0, to: 1 },
      { kind: 'failback', from: 1, to: 0 },
    ]);
  });

  it('active-standby: no healthy backend gives no candidate (the handler answers 503)', () => {
    const router = createModeRouter(standby);
    assert.deepEqual(router.route(facts, ctx([down, down, down])).candidates, []);
    assert.equal(router.activeIndex(), undefined);
  });

  it('active-active roundrobin: spreads by weight and lists the others as retry targets', () => {
    const router = createModeRouter({ ...standby, mode: 'active-active' });
    const firsts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const d = router.route(facts, ctx([up, up, up]));
      assert.equal(d.candidates.length, 3);
      firsts.push(d.candidates[0].name);
    }
    assert.equal(firsts.join(''), 'abcaabca');
  });

  it('active-active leastconn: the least loaded healthy backend first', () => {
    const router = createModeRouter({ ...standby, mode: 'active-active', balance: 'leastconn' });
    assert.equal(names(router.route(facts, ctx([up, up, up], 0, [4, 1, 3])).candidates), 'bac', 'a: 4 in flight / weight 2');
    assert.equal(names(router.route(facts, ctx([up, down, up], 0, [4, 1, 3])).candidates), 'ac');
  });
});
