import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STABLE_MS } from '../../src/process/restart-policy.js';
import { listenErrorIn, recordEndedRun, type StartFailures } from '../../src/supervisor/start-failures.js';

const taken = 'cannot listen on listen 127.0.0.1:5001: address already in use (EADDRINUSE)';

describe('giving up on a replica that cannot start', () => {
  it('finds the listen error a child printed on stderr', () => {
    assert.equal(listenErrorIn(`some warning\nha-proxy: ${taken}\n`), taken);
    assert.equal(listenErrorIn('ha-proxy: registry.htpasswd: cannot use /x (ENOENT)\n'), undefined);
    assert.equal(listenErrorIn(''), undefined);
  });

  it('gives up after five quick runs in a row that ended with the same listen error', () => {
    const state: StartFailures = { count: 0 };
    const verdicts = [1, 2, 3, 4, 5].map(() => recordEndedRun(state, { uptimeMs: 500, listenError: taken }));
    assert.deepEqual(verdicts, [undefined, undefined, undefined, undefined, taken]);
  });

  it('starts counting again after a crash of another kind, a different listen error or a run that was up for long', () => {
    for (const other of [{ uptimeMs: 500 }, { uptimeMs: 500, listenError: 'cannot listen on adminListen 127.0.0.1:5002: address already in use (EADDRINUSE)' }, { uptimeMs: STABLE_MS, listenError: taken }]) {
      const state: StartFailures = { count: 0 };
      for (let i = 0; i < 4; i++) recordEndedRun(state, { uptimeMs: 500, listenError: taken });
      assert.equal(recordEndedRun(state, other), undefined, JSON.stringify(other));
      for (let i = 0; i < 4; i++) assert.equal(recordEndedRun(state, { uptimeMs: 500, listenError: taken }), undefined);
      assert.equal(recordEndedRun(state, { uptimeMs: 500, listenError: taken }), taken);
    }
  });
});
