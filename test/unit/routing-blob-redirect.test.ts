import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendAdmin } from '../../src/health/admin-state.js';
import type { BackendHealth } from '../../src/health/health-state.js';
import { BLOB_SIGNATURE_PARAM, verifyBlobSignature } from '../../src/oci/blob-url-signature.js';
import { deriveKeyring } from '../../src/oci/signing.js';
import type { Backend } from '../../src/proxy/backend.js';
import { createModeRouter } from '../../src/proxy/mode-router.js';
import type { RequestFacts, RoutingContext } from '../../src/proxy/route-decision.js';
import { redirectOrigin, withBlobRedirect } from '../../src/proxy/routing/blob-redirect.js';
import { createRegistryRouter } from '../../src/proxy/routing/registry-router.js';
import { compileRoutes, type RouteRuleConfig } from '../../src/proxy/routing/route-rules.js';

const D = `sha256:${'c'.repeat(64)}`;
const keys = deriveKeyring([Buffer.from('the routing secret of the proxies')], 'blob-redirect');
const NOW = 1_800_000_000_000;
const list = ['r1', 'r2', 'r3'].map((name, index) => ({ index, name, label: name, url: `http://${name}:5000`, origin: `http://${name}:5000`, weight: 1 }) as unknown as Backend);
const publicUrls = ['https://r1.example.com', 'https://r2.example.com', undefined];

const up: BackendHealth = { up: true, streak: 0, since: 0, passiveErrors: 0 };
const down: BackendHealth = { up: false, streak: 0, since: 1, passiveErrors: 0 };
const admin = (state: BackendAdmin['state']): BackendAdmin => ({ state, weight: 1 }) as BackendAdmin;

function ctx(options: { down?: string[]; drain?: string[]; maint?: string[] } = {}): RoutingContext {
  return {
    backends: list,
    health: list.map((b) => (options.down?.includes(b.name) ? down : up)),
    admin: list.map((b) => admin(options.drain?.includes(b.name) ? 'drain' : options.maint?.includes(b.name) ? 'maint' : 'ready')),
    inflight: list.map(() => 0),
    now: NOW,
  };
}

function facts(method: string, url: string): RequestFacts {
  const q = url.indexOf('?');
  return { method, url, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '' : url.slice(q + 1), headers: {}, hasBody: false };
}

function makeRouter(routes: RouteRuleConfig[] = []) {
  const inner = createModeRouter({ mode: 'active-standby', balance: 'roundrobin', retries: 2, failback: { mode: 'auto', delayMs: 0 } });
  const registry = createRegistryRouter(inner, { mode: 'active-standby', retries: 2, routes: compileRoutes(routes), readFallback: true, uploadKeys: keys });
  const redirected: string[] = [];
  const router = withBlobRedirect(registry, { keys, expiresMs: 60_000, publicUrls, onRedirect: (b) => redirected.push(b.name) });
  return { route: (f: RequestFacts, c = ctx()) => router.route(f, c), redirected };
}

describe('blob redirect routing', () => {
  it('redirects a blob GET to the active backend\'s public URL, signed for repository and digest', () => {
    const { route, redirected } = makeRouter();
    const decision = route(facts('GET', `/v2/team/app/blobs/${D}?ns=docker.io`));
    // The usual decision stays whole: it is carried out when the backend does not confirm.
    assert.deepEqual(decision.candidates, list);
    assert.ok(decision.checkResponse, 'with its read checks');
    const url = new URL(decision.redirect!.location);
    assert.equal(url.origin, 'https://r1.example.com');
    assert.equal(url.pathname, `/v2/team/app/blobs/${D}`);
    assert.deepEqual([...url.searchParams.keys()], [BLOB_SIGNATURE_PARAM], 'the client\'s own query is not passed on');
    const signature = url.searchParams.get(BLOB_SIGNATURE_PARAM)!;
    assert.deepEqual(verifyBlobSignature(keys, signature, 'team/app', D, NOW + 59_000), { ok: true });
    assert.equal(verifyBlobSignature(keys, signature, 'team/app', D, NOW + 61_000).ok, false, 'expires after expiresMs');
    assert.deepEqual(redirected, [], 'counted only once the 307 is sent');
    decision.redirect!.sent!();
    assert.deepEqual(redirected, ['r1']);
  });

  const forwarded: [string, string, string][] = [
    ['HEAD of a blob', 'HEAD', `/v2/team/app/blobs/${D}`],
    ['a manifest', 'GET', '/v2/team/app/manifests/latest'],
    ['a manifest by digest', 'GET', `/v2/team/app/manifests/${D}`],
    ['an upload session', 'GET', '/v2/team/app/blobs/uploads/abc'],
    ['a blob DELETE', 'DELETE', `/v2/team/app/blobs/${D}`],
    ['tags', 'GET', '/v2/team/app/tags/list'],
    ['the base endpoint', 'GET', '/v2/'],
  ];
  for (const [what, method, url] of forwarded) {
    it(`forwards ${what}`, () => {
      const { route, redirected } = makeRouter();
      const decision = route(facts(method, url));
      assert.equal(decision.redirect, undefined);
      assert.deepEqual(redirected, []);
    });
  }

  it('follows the routing decision: a drained, maintained or down active hands the redirect to the next ready backend', () => {
    for (const state of [{ drain: ['r1'] }, { maint: ['r1'] }, { down: ['r1'] }]) {
      const { route } = makeRouter();
      const decision = route(facts('GET', `/v2/team/app/blobs/${D}`), ctx(state));
      assert.ok(decision.redirect?.location.startsWith('https://r2.example.com/'), `${JSON.stringify(state)}: ${decision.redirect?.location}`);
    }
  });

  it('forwards when the chosen backend has no publicUrl, and when no backend can take the request', () => {
    const { route } = makeRouter([{ repositories: ['internal/**'], backends: ['r3'] }]);
    const internal = route(facts('GET', `/v2/internal/app/blobs/${D}`));
    assert.equal(internal.redirect, undefined);
    assert.deepEqual(internal.candidates, [list[2]]);
    const none = route(facts('GET', `/v2/team/app/blobs/${D}`), ctx({ down: ['r1', 'r2', 'r3'] }));
    assert.equal(none.redirect, undefined);
  });

  it('passes a routing rejection through untouched', () => {
    const { route } = makeRouter([{ repositories: ['internal/**'], backends: ['r3'] }]);
    const decision = route(facts('GET', `/v2/internal/app/blobs/${D}`), ctx({ down: ['r3'] }));
    assert.equal(decision.redirect, undefined);
    assert.equal(decision.reject?.code, 'UNAVAILABLE');
  });

  it('takes publicUrl with or without a trailing slash', () => {
    assert.equal(redirectOrigin('https://r1.example.com/'), 'https://r1.example.com');
    assert.equal(redirectOrigin('http://10.0.0.1:5000'), 'http://10.0.0.1:5000');
    assert.equal(redirectOrigin(undefined), undefined);
  });
});
