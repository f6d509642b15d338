import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideAdminAccess, isLoopbackHost } from '../../src/observability/admin-access.js';

const TOKEN = 'a-token-of-enough-length';
const loopback = { token: TOKEN, loopbackOnly: true };

describe('admin access decision', () => {
  it('lets reads through under loopback names and IP literals, refuses other names on a loopback listener', () => {
    for (const host of [undefined, '127.0.0.1:9090', 'localhost:9090', '[::1]:9090', 'app.localhost', '10.0.0.5:9090']) {
      assert.deepEqual(decideAdminAccess({ mutating: false, host, authorization: undefined }, loopback), { allowed: true }, String(host));
    }
    const rebound = decideAdminAccess({ mutating: false, host: 'evil.example:9090', authorization: undefined }, loopback);
    assert.equal(rebound.allowed ? 0 : rebound.status, 403);
    assert.deepEqual(decideAdminAccess({ mutating: false, host: 'ha-proxy.monitoring:9090', authorization: undefined }, { token: TOKEN, loopbackOnly: false }), { allowed: true });
  });

  it('needs the exact bearer token for an action, and refuses every action without a configured token', () => {
    const verdict = (authorization: string | undefined, configured = true) => {
      const v = decideAdminAccess({ mutating: true, host: '127.0.0.1:9090', authorization }, { token: configured ? TOKEN : undefined, loopbackOnly: true });
      return v.allowed ? 200 : v.status;
    };
    assert.equal(verdict(`Bearer ${TOKEN}`), 200);
    assert.equal(verdict(`bearer ${TOKEN}`), 200);
    assert.equal(verdict(undefined), 401);
    assert.equal(verdict(`Bearer ${TOKEN}x`), 401);
    assert.equal(verdict(`Basic ${TOKEN}`), 401);
    assert.equal(verdict(`Bearer ${TOKEN}`, false), 403);
  });

  it('knows the loopback names', () => {
    assert.deepEqual(['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST', '0.0.0.0', '::', '10.0.0.1'].map(isLoopbackHost), [true, true, true, true, true, false, false, false]);
  });
});
