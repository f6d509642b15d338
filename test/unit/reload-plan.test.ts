import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfigObject } from '../../src/config/load.js';
import { reloadedAdmin } from '../../src/health/admin-store.js';
import { byName, carried, carryByKey } from '../../src/health/carry.js';
import { planReload } from '../../src/proxy/reload-plan.js';

const config = (extra: Record<string, unknown>) =>
  validateConfigObject({ mode: 'active-active', backends: [{ name: 'a', url: 'http://127.0.0.1:5001' }, { name: 'b', url: 'http://127.0.0.1:5002' }], ...extra });

describe('reload plan', () => {
  it('names added, removed and changed backends; an unchanged file changes nothing', () => {
    const running = config({});
    assert.deepEqual(planReload(running, config({})).changes, []);
    const next = config({ backends: [{ name: 'b', url: 'http://127.0.0.1:5002', weight: 3 }, { name: 'c', url: 'http://127.0.0.1:5003' }] });
    assert.deepEqual(planReload(running, next).changes, ['backends: changed b', 'backends: added c', 'backends: removed a']);
  });

  it('keeps restart-only settings at their running value and names them', () => {
    const running = config({ listen: '127.0.0.1:5000', workers: 2 });
    const plan = planReload(running, config({ listen: '127.0.0.1:6000', workers: 4, retries: 1, timeouts: { headersMs: 5, connectMs: 100 } }));
    assert.deepEqual(plan.restartNeeded, ['listen', 'workers', 'timeouts.headersMs']);
    assert.equal(plan.config.listen, '127.0.0.1:5000');
    assert.equal(plan.config.workers, 2);
    assert.equal(plan.config.timeouts.headersMs, running.timeouts.headersMs);
    assert.equal(plan.config.timeouts.connectMs, 100);
    assert.equal(plan.config.retries, 1);
    assert.deepEqual(plan.changes, ['retries', 'timeouts']);
  });

  it('switching TLS on needs a restart', () => {
    const plan = planReload(config({}), { ...config({}), tls: { cert: '/x', key: '/y', certificates: [], minVersion: 'TLSv1.2' } } as never);
    assert.deepEqual(plan.restartNeeded, ['tls']);
    assert.equal(plan.config.tls, undefined);
  });
});

describe('state carried across a reload', () => {
  it('by key: kept where the key stays, fresh where it is new', () => {
    const carry = carryByKey(['a', 'b', 'c'], ['c', 'd', 'a']);
    assert.deepEqual(carry, [2, undefined, 0]);
    assert.deepEqual(carried(carry, ['A', 'B', 'C'], (i) => `new${i}`), ['C', 'new1', 'A']);
  });

  it('by name from another process whose list differs', () => {
    assert.deepEqual(byName(['b', 'x'], ['a', 'b'], ['A', 'B'], () => '?'), ['B', '?']);
  });

  it("admin states: an operator's change stays, an untouched backend takes the new configured weight", () => {
    const previous = [
      { state: 'drain' as const, weight: 7, at: 10, reason: 'set to drain' },
      { state: 'ready' as const, weight: 1, at: 0, reason: '' },
    ];
    const next = reloadedAdmin({ carry: [0, 1, undefined], names: ['a', 'b', 'c'], weights: [2, 5, 3] }, previous);
    assert.deepEqual(next.map((a) => [a.state, a.weight]), [['drain', 7], ['ready', 5], ['ready', 3]]);
  });
});
