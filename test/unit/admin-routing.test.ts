// Routing tables for the admin states: which backend each kind of request goes to when one is
// ready, drained or in maintenance, in both modes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendHealth } from '../../src/health/health-state.js';
import { checkWeight, initialAdmin, type AdminState, type BackendAdmin } from '../../src/health/admin-state.js';
import type { Backend } from '../../src/proxy/backend.js';
import { createModeRouter, type ModeConfig } from '../../src/proxy/mode-router.js';
import type { RequestFacts, RoutingContext } from '../../src/proxy/route-decision.js';
import { createRegistryRouter } from '../../src/proxy/routing/registry-router.js';
import { compileRoutes } from '../../src/proxy/routing/route-rules.js';
import { deriveKeyring, resolveSecret } from '../../src/oci/signing.js';
import { signCookieValue } from '../../src/proxy/routing/sticky-cookie.js';
import { signUploadToken } from '../../src/proxy/routing/upload-token.js';

const SECRET = resolveSecret('a secret for the admin routing tests');
const uploadKeys = deriveKeyring([SECRET.value], 'upload-token');
const cookieKeys = deriveKeyring([SECRET.value], 'sticky-cookie');
const backends = ['a', 'b', 'c'].map((name, index) => ({ index, name, label: name, url: `http://${name}`, origin: `http://${name}`, weight: 1, pathPrefix: '' }) satisfies Backend);

const up: BackendHealth = { up: true, streak: 0, since: 0, passiveErrors: 0 };
const down: BackendHealth = { up: false, streak: 0, since: 1, passiveErrors: 0 };

function admin(states: AdminState[], weights: number[] = [1, 1, 1]): BackendAdmin[] {
  return states.map((state, i) => ({ ...initialAdmin(weights[i]), state }));
}

function ctx(states: AdminState[], health: BackendHealth[] = [up, up, up], weights?: number[]): RoutingContext {
  return { backends, health, inflight: [0, 0, 0], now: 10_000, admin: admin(states, weights) };
}

function facts(method: string, url: string, headers: Record<string, string> = {}): RequestFacts {
  const q = url.indexOf('?');
  return { method, url, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '' : url.slice(q + 1), headers, hasBody: false };
}

const names = (list: readonly { name: string }[]) => list.map((b) => b.name).join('');
const standby: ModeConfig = { mode: 'active-standby', balance: 'roundrobin', retries: 2, failback: { mode: 'auto', delayMs: 0 } };
const active: ModeConfig = { ...standby, mode: 'active-active' };

function registryRouter(mode: 'active-standby' | 'active-active', sticky = false) {
  const inner = createModeRouter(mode === 'active-standby' ? standby : active);
  return createRegistryRouter(inner, {
    mode,
    retries: 2,
    routes: compileRoutes([]),
    readFallback: true,
    uploadKeys,
    sticky: sticky ? { cookieName: 'srv', keys: cookieKeys } : undefined,
  });
}

const chunk = (owner: string) => facts('PATCH', `/v2/app/blobs/uploads/u1?_ha_upload=${signUploadToken(uploadKeys, owner, 'app')}`);

describe('admin states: active-standby', () => {
  // [states of a, b, c] -> candidates of a new request (the active one first)
  const table: [AdminState[], string][] = [
    [['ready', 'ready', 'ready'], 'abc'],
    [['drain', 'ready', 'ready'], 'bc'],
    [['maint', 'ready', 'ready'], 'bc'],
    [['drain', 'maint', 'ready'], 'c'],
    [['ready', 'drain', 'ready'], 'ac'],
    [['drain', 'drain', 'drain'], ''],
  ];
  for (const [states, expected] of table) {
    it(`${states.join('/')}: new requests go to ${expected || 'nobody'}`, () => {
      assert.equal(names(createModeRouter(standby).route(facts('GET', '/v2/'), ctx(states)).candidates), expected);
    });
  }

  it('moves the active role off a drained backend and back once it is ready (auto failback)', () => {
    const events: string[] = [];
    const router = createModeRouter(standby, (e) => events.push(e.kind));
    assert.equal(router.route(facts('GET', '/v2/'), ctx(['ready', 'ready', 'ready'])).candidates[0].name, 'a');
    router.refresh(ctx(['drain', 'ready', 'ready']));
    assert.equal(router.activeIndex(), 1);
    router.refresh(ctx(['ready', 'ready', 'ready']));
    assert.equal(router.activeIndex(), 0);
    assert.deepEqual(events, ['failover', 'failback']);
  });

  it('steps aside from an elected backend that is drained', () => {
    const router = createModeRouter(standby);
    const elected = { ...ctx(['drain', 'ready', 'ready']), elected: { active: 0 } };
    assert.equal(names(router.route(facts('GET', '/v2/'), elected).candidates), 'bc');
  });

  it('a new upload goes to the next backend while the drained one keeps its open session', () => {
    const router = registryRouter('active-standby');
    const states: AdminState[] = ['drain', 'ready', 'ready'];
    assert.equal(router.route(facts('POST', '/v2/app/blobs/uploads/'), ctx(states)).candidates[0].name, 'b');
    const decision = router.route(chunk('a'), ctx(states));
    assert.equal(names(decision.candidates), 'a');
    assert.equal(decision.reject, undefined);
  });

  it('maint refuses even the open session (BLOB_UPLOAD_UNKNOWN: the client restarts the upload)', () => {
    const decision = registryRouter('active-standby').route(chunk('a'), ctx(['maint', 'ready', 'ready']));
    assert.equal(decision.candidates.length, 0);
    assert.equal(decision.reject?.code, 'BLOB_UPLOAD_UNKNOWN');
    assert.match(decision.reject?.message ?? '', /maintenance/);
  });

  it('a drained backend that is also down refuses its session as down', () => {
    const decision = registryRouter('active-standby').route(chunk('a'), ctx(['drain', 'ready', 'ready'], [down, up, up]));
    assert.match(decision.reject?.message ?? '', /is down/);
  });
});

describe('admin states: active-active', () => {
  it('round robin skips drained and maintained backends', () => {
    const router = createModeRouter(active);
    const picks = Array.from({ length: 6 }, () => router.route(facts('GET', '/v2/'), ctx(['ready', 'drain', 'ready'])).candidates[0].name);
    assert.deepEqual([...new Set(picks)].sort(), ['a', 'c']);
    const only = Array.from({ length: 4 }, () => router.route(facts('GET', '/v2/'), ctx(['maint', 'drain', 'ready'])).candidates.map((b) => b.name).join(''));
    assert.deepEqual(only, ['c', 'c', 'c', 'c']);
  });

  it('round robin follows runtime weights', () => {
    const router = createModeRouter(active);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 50; i++) counts[router.route(facts('GET', '/v2/'), ctx(['ready', 'ready', 'ready'], undefined, [3, 1, 1])).candidates[0].name]++;
    assert.deepEqual(counts, { a: 30, b: 10, c: 10 });
  });

  it('leastconn skips a drained backend', () => {
    const router = createModeRouter({ ...active, balance: 'leastconn' });
    for (let i = 0; i < 4; i++) assert.notEqual(router.route(facts('GET', '/v2/'), ctx(['drain', 'ready', 'ready'])).candidates[0].name, 'a');
  });

  it('a sticky client keeps its drained backend; a maintained one re-dispatches it', () => {
    const router = registryRouter('active-active', true);
    const cookie = { cookie: `srv=${signCookieValue(cookieKeys, 'a')}` };
    assert.equal(router.route(facts('GET', '/ui/page', cookie), ctx(['drain', 'ready', 'ready'])).candidates[0].name, 'a');
    assert.notEqual(router.route(facts('GET', '/ui/page', cookie), ctx(['maint', 'ready', 'ready'])).candidates[0].name, 'a');
    assert.notEqual(router.route(facts('GET', '/ui/page'), ctx(['drain', 'ready', 'ready'])).candidates[0].name, 'a', 'no cookie: a new client');
  });

  it('a repository is homed only on backends that take new requests', () => {
    const router = registryRouter('active-active');
    for (const repo of ['x', 'y', 'z', 'w', 'v']) {
      assert.ok(!names(router.route(facts('GET', `/v2/${repo}/manifests/latest`), ctx(['ready', 'drain', 'maint'])).candidates).includes('b'));
    }
  });
});

describe('admin states: runtime weights', () => {
  it('accepts 1..256 (numbers or digit strings) and refuses the rest with the range', () => {
    assert.deepEqual(checkWeight(5), { ok: true, weight: 5 });
    assert.deepEqual(checkWeight('256'), { ok: true, weight: 256 });
    for (const bad of [0, 257, 1.5, '-1', 'x', undefined, null]) {
      const check = checkWeight(bad);
      assert.equal(check.ok, false, String(bad));
      assert.match(check.ok ? '' : check.message, /1 to 256/);
    }
  });
});
