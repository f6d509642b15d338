import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { BackendHealth } from '../../src/health/health-state.js';
import type { Backend } from '../../src/proxy/backend.js';
import { createModeRouter } from '../../src/proxy/mode-router.js';
import type { RequestFacts, RouteDecision, RoutingContext } from '../../src/proxy/route-decision.js';
import { createRegistryRouter } from '../../src/proxy/routing/registry-router.js';
import { rendezvousOwner } from '../../src/proxy/routing/rendezvous.js';
import { compileRoutes, type RouteRuleConfig } from '../../src/proxy/routing/route-rules.js';
import { createRoutingMetrics } from '../../src/proxy/routing/routing-metrics.js';
import { deriveKeyring, resolveSecret } from '../../src/oci/signing.js';
import { signCookieValue } from '../../src/proxy/routing/sticky-cookie.js';
import { signUploadToken } from '../../src/proxy/routing/upload-token.js';
import { ResponseFields } from '../../src/proxy/response-fields.js';

const D = `sha256:${'b'.repeat(64)}`;
const SECRET = resolveSecret('the secret both proxies share');
const uploadKey = deriveKeyring([SECRET.value], 'upload-token');
const cookieKey = deriveKeyring([SECRET.value], 'sticky-cookie');

function backends(names: string[]): Backend[] {
  return names.map((name, index) => ({ index, name, label: name, url: `http://${name}`, origin: `http://${name}`, weight: 1, pathPrefix: '' }) satisfies Backend);
}

const up: BackendHealth = { up: true, streak: 0, since: 0, passiveErrors: 0 };
const down: BackendHealth = { up: false, streak: 0, since: 1, passiveErrors: 0 };

function ctx(list: Backend[], downNames: string[] = []): RoutingContext {
  return { backends: list, health: list.map((b) => (downNames.includes(b.name) ? down : up)), inflight: list.map(() => 0), now: 1000 };
}

function facts(method: string, url: string, headers: Record<string, string> = {}): RequestFacts {
  const q = url.indexOf('?');
  return { method, url, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '' : url.slice(q + 1), headers, hasBody: false };
}

interface Setup {
  mode?: 'active-active' | 'active-standby';
  routes?: RouteRuleConfig[];
  readFallback?: boolean;
  sticky?: boolean;
  uploadAffinity?: 'required' | 'preferred' | 'off';
}

function makeRouter(setup: Setup = {}) {
  const mode = setup.mode ?? 'active-active';
  const registry = new Registry();
  const inner = createModeRouter({ mode, balance: 'roundrobin', retries: 2, failback: { mode: 'auto', delayMs: 0 } });
  const router = createRegistryRouter(inner, {
    mode,
    retries: 2,
    routes: compileRoutes(setup.routes ?? []),
    readFallback: setup.readFallback ?? true,
    uploadKeys: uploadKey,
    sticky: setup.sticky ? { cookieName: 'srv', keys: cookieKey } : undefined,
    uploadAffinity: setup.uploadAffinity,
    events: createRoutingMetrics(registry),
  });
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0);
  };
  return { route: (f: RequestFacts, c: RoutingContext) => router.route(f, c) as RouteDecision, metric };
}

const three = backends(['r1', 'r2', 'r3']);
const homeOf = (name: string, list = three) => rendezvousOwner(list, name)!;

/** Runs the decision's response hook like the forwarder does and returns the edited headers. */
function respond(decision: RouteDecision, status: number, headers: Record<string, string | string[]>, backend: Backend): Record<string, string | string[] | undefined> {
  const fields = ResponseFields.of(headers);
  decision.editResponseHeaders?.(fields, status, backend);
  const out: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i < fields.list.length; i += 2) {
    const name = fields.list[i];
    out[name] = name === 'set-cookie' ? fields.all(name) : fields.get(name);
  }
  return out;
}

/** Response headers as the forwarder hands them to checkResponse. */
const answer = (headers: Record<string, string> = {}): ResponseFields => ResponseFields.of(headers);

describe('registry router: upload affinity', () => {
  it('sends the POST that opens a session to the repository home, and signs the Location it returns', () => {
    const { route } = makeRouter();
    const decision = route(facts('POST', '/v2/team/app/blobs/uploads/'), ctx(three));
    const home = homeOf('team/app');
    assert.equal(decision.candidates[0], home);
    const headers = respond(decision, 202, { location: '/v2/team/app/blobs/uploads/u1?_state=s%3D' }, home);
    assert.match(String(headers.location), /^\/v2\/team\/app\/blobs\/uploads\/u1\?_state=s%3D&_ha_upload=u1\.[\w-]+\.[\w-]+$/);
    // A mount that completes (201) hands out a blob URL: no token.
    assert.equal(respond(decision, 201, { location: `/v2/team/app/blobs/${D}` }, home).location, `/v2/team/app/blobs/${D}`);
  });

  it('pins every later request of the session to the backend that opened it, even after the home moved', async () => {
    const { route, metric } = makeRouter();
    const home = homeOf('team/app');
    const other = three.find((b) => b !== home)!;
    const token = signUploadToken(uploadKey, other.name, 'team/app');
    // The home is healthy and differs from the owner: the token wins.
    const url = `/v2/team/app/blobs/uploads/u1?_state=abc&_ha_upload=${token}&digest=${D}`;
    const decision = route(facts('PUT', url), ctx(three));
    assert.deepEqual(decision.candidates.map((b) => b.name), [other.name]);
    assert.equal(decision.retries, 0);
    assert.equal(decision.forwardUrl, `/v2/team/app/blobs/uploads/u1?_state=abc&digest=${D}`);
    // If the owner dies before health checks notice, the client is told to restart, not 502.
    assert.equal(decision.failWith?.code, 'BLOB_UPLOAD_UNKNOWN');
    const headers = respond(decision, 202, { location: 'http://proxy:5000/v2/team/app/blobs/uploads/u1?_state=next' }, other);
    assert.match(String(headers.location), /\?_state=next&_ha_upload=/);
    assert.equal(await metric('haproxy_routing_requests_total', { route: 'upload_affinity' }), 1);
  });

  it('is honoured by a second proxy configured with the same secret', () => {
    const first = makeRouter();
    const second = makeRouter();
    const opened = first.route(facts('POST', '/v2/a/blobs/uploads/'), ctx(three));
    const owner = opened.candidates[0];
    const location = String(respond(opened, 202, { location: '/v2/a/blobs/uploads/u9' }, owner).location);
    const next = second.route(facts('PATCH', location), ctx(three));
    assert.deepEqual(next.candidates, [owner]);
  });

  it('answers BLOB_UPLOAD_UNKNOWN at once when the owner is down, never sending the chunk elsewhere', async () => {
    const { route, metric } = makeRouter();
    const token = signUploadToken(uploadKey, 'r2', 'a');
    const decision = route(facts('PATCH', `/v2/a/blobs/uploads/u1?_ha_upload=${token}`), ctx(three, ['r2']));
    assert.equal(decision.candidates.length, 0);
    assert.equal(decision.reject?.code, 'BLOB_UPLOAD_UNKNOWN');
    assert.match(decision.reject!.message, /r2\) is down/);
    assert.equal(await metric('haproxy_routing_upload_affinity_misses_total'), 1);
    const gone = route(facts('PATCH', `/v2/a/blobs/uploads/u1?_ha_upload=${signUploadToken(uploadKey, 'r9', 'a')}`), ctx(three));
    assert.equal(gone.reject?.code, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('refuses forged, corrupted and misplaced tokens with BLOB_UPLOAD_INVALID', async () => {
    const { route, metric } = makeRouter();
    const token = signUploadToken(uploadKey, 'r1', 'a');
    const bad = [
      `/v2/a/blobs/uploads/u1?_ha_upload=${token.slice(0, -3)}`,
      `/v2/a/blobs/uploads/u1?_ha_upload=${token.replace('.', '.x')}`,
      `/v2/b/blobs/uploads/u1?_ha_upload=${token}`,
      `/v2/a/blobs/uploads/u1?_ha_upload=${token}&_ha_upload=${signUploadToken(uploadKey, 'r2', 'a')}`,
      `/v2/a/blobs/uploads/u1?_ha_upload=%ff%fe`,
      `/v2/a/blobs/uploads/u1?_ha_upload=`,
    ];
    for (const url of bad) {
      const decision = route(facts('PATCH', url), ctx(three));
      assert.equal(decision.reject?.code, 'BLOB_UPLOAD_INVALID', url);
      assert.equal(decision.candidates.length, 0);
    }
    assert.equal(await metric('haproxy_routing_upload_token_rejections_total'), bad.length);
  });
});

describe('registry router: upload affinity on shared storage', () => {
  it('preferred: the owner first, then the repository order; the owner down: another replica continues', () => {
    const { route } = makeRouter({ uploadAffinity: 'preferred' });
    const home = homeOf('a');
    const owner = three.find((b) => b !== home)!;
    const url = `/v2/a/blobs/uploads/u1?_ha_upload=${signUploadToken(uploadKey, owner.name, 'a')}`;
    const decision = route(facts('PATCH', url), ctx(three));
    assert.equal(decision.candidates[0], owner);
    assert.equal(decision.candidates.length, 3);
    assert.equal(decision.forwardUrl, '/v2/a/blobs/uploads/u1');
    assert.equal(decision.failWith, undefined);
    const ownerDown = route(facts('PATCH', url), ctx(three, [owner.name]));
    assert.equal(ownerDown.reject, undefined);
    assert.equal(ownerDown.candidates[0], home);
    assert.ok(!ownerDown.candidates.includes(owner));
    assert.equal(ownerDown.forwardUrl, '/v2/a/blobs/uploads/u1');
    // The replica that continues hands out a token of its own.
    assert.match(String(respond(ownerDown, 202, { location: '/v2/a/blobs/uploads/u1' }, home).location), /_ha_upload=/);
    // A forged token is still refused.
    assert.equal(route(facts('PATCH', `${url.slice(0, -3)}`), ctx(three)).reject?.code, 'BLOB_UPLOAD_INVALID');
  });

  it('off: no token is handed out, and one from before is dropped and routed as the repository', () => {
    const { route } = makeRouter({ uploadAffinity: 'off' });
    const opened = route(facts('POST', '/v2/a/blobs/uploads/'), ctx(three));
    assert.equal(respond(opened, 202, { location: '/v2/a/blobs/uploads/u1' }, opened.candidates[0]).location, '/v2/a/blobs/uploads/u1');
    const url = `/v2/a/blobs/uploads/u1?_ha_upload=${signUploadToken(uploadKey, 'r9', 'a')}`;
    const decision = route(facts('PATCH', url), ctx(three));
    assert.equal(decision.reject, undefined);
    assert.equal(decision.candidates[0], homeOf('a'));
    assert.equal(decision.forwardUrl, '/v2/a/blobs/uploads/u1');
  });
});

describe('registry router: per-repository routing', () => {
  it('sends every request of a repository to its home in active-active', () => {
    const { route } = makeRouter();
    for (const name of ['a', 'team/x', 'lib/ubuntu', 'z/y/x']) {
      const home = homeOf(name);
      for (const [method, url] of [
        ['PUT', `/v2/${name}/manifests/v1`],
        ['DELETE', `/v2/${name}/manifests/${D}`],
        ['GET', `/v2/${name}/manifests/v1`],
        ['HEAD', `/v2/${name}/blobs/${D}`],
        ['GET', `/v2/${name}/tags/list`],
      ]) {
        assert.equal(route(facts(method, url), ctx(three)).candidates[0], home, `${method} ${url}`);
      }
    }
  });

  it('moves only the failed backend’s repositories, and brings them back', () => {
    const { route } = makeRouter();
    const names = Array.from({ length: 300 }, (_, i) => `repo-${i}`);
    const home = (list: string[] = []) => names.map((n) => route(facts('PUT', `/v2/${n}/manifests/t`), ctx(three, list)).candidates[0].name);
    const before = home();
    const during = home(['r2']);
    names.forEach((_, i) => {
      if (before[i] === 'r2') assert.notEqual(during[i], 'r2');
      else assert.equal(during[i], before[i]);
    });
    assert.deepEqual(home(), before);
  });

  it('lists the other healthy backends after the home, in the order the repository would move', () => {
    const { route } = makeRouter();
    const read = route(facts('GET', `/v2/a/blobs/${D}`), ctx(three, ['r3']));
    assert.equal(read.candidates.length, 2);
    assert.equal(read.candidates[0], homeOf('a', three.slice(0, 2)));
    assert.equal(read.retries, 2);
    const write = route(facts('PUT', '/v2/a/manifests/v1'), ctx(three));
    // The backend after the home is the home the repository gets when its home goes down.
    assert.equal(write.candidates[1], homeOf('a', three.filter((b) => b !== write.candidates[0])));
    assert.equal(write.checkResponse, undefined);
  });

  it('applies route rules, first match wins, and says so when a pool has no healthy backend', () => {
    const { route } = makeRouter({ routes: [{ repositories: ['team-a/**'], backends: ['r1', 'r2'] }, { repositories: ['**'], backends: ['r3'] }] });
    for (let i = 0; i < 50; i++) {
      assert.ok(['r1', 'r2'].includes(route(facts('PUT', `/v2/team-a/app${i}/manifests/v`), ctx(three)).candidates[0].name));
      assert.equal(route(facts('PUT', `/v2/team-b/app${i}/manifests/v`), ctx(three)).candidates[0].name, 'r3');
    }
    assert.deepEqual(route(facts('GET', `/v2/team-a/app/blobs/${D}`), ctx(three)).candidates.map((b) => b.name).sort(), ['r1', 'r2']);
    const none = route(facts('GET', '/v2/team-b/app/manifests/v'), ctx(three, ['r3']));
    assert.equal(none.reject?.code, 'UNAVAILABLE');
    assert.match(none.reject!.message, /team-b\/app \(routing\.routes\[1\]\)/);
  });

  it('sends requests that name no repository to any healthy backend', () => {
    const { route } = makeRouter();
    const picks = new Set(Array.from({ length: 6 }, () => route(facts('GET', '/v2/'), ctx(three)).candidates[0].name));
    assert.deepEqual([...picks].sort(), ['r1', 'r2', 'r3']);
    assert.notEqual(route(facts('GET', '/v2/_catalog'), ctx(three, ['r1'])).candidates[0].name, 'r1');
  });

  it('keeps the priority order in active-standby', () => {
    const { route } = makeRouter({ mode: 'active-standby' });
    assert.deepEqual(route(facts('GET', `/v2/a/blobs/${D}`), ctx(three)).candidates.map((b) => b.name), ['r1', 'r2', 'r3']);
    assert.deepEqual(route(facts('POST', '/v2/a/blobs/uploads/'), ctx(three, ['r1'])).candidates.map((b) => b.name), ['r2', 'r3']);
  });
});

describe('registry router: read fallback', () => {
  it('drops a 404 from any backend but the last, and never passes on a blob under another digest', async () => {
    const { route, metric } = makeRouter();
    const decision = route(facts('GET', `/v2/a/blobs/${D}`), ctx(three));
    const check = decision.checkResponse!;
    const [first, , last] = decision.candidates;
    assert.equal(check(404, answer(), first, false), 'next');
    assert.equal(check(404, answer(), last, true), 'accept');
    assert.equal(check(200, answer({ 'docker-content-digest': D }), first, false), 'accept');
    assert.equal(check(200, answer(), first, false), 'accept');
    assert.equal(check(200, answer({ 'docker-content-digest': `sha256:${'c'.repeat(64)}` }), first, false), 'next');
    assert.equal(check(200, answer({ 'docker-content-digest': `sha256:${'c'.repeat(64)}` }), last, true), 'next');
    assert.equal(check(307, answer({ location: 'http://storage/x' }), first, false), 'accept');
    assert.equal(await metric('haproxy_routing_read_fallbacks_total', { reason: 'not_found' }), 1);
    assert.equal(await metric('haproxy_routing_read_fallbacks_total', { reason: 'digest_mismatch' }), 2);
  });

  it('checks manifests fetched by tag for 404 only', () => {
    const { route } = makeRouter();
    const check = route(facts('HEAD', '/v2/a/manifests/latest'), ctx(three)).checkResponse!;
    assert.equal(check(200, answer({ 'docker-content-digest': D }), three[0], false), 'accept');
    assert.equal(check(404, answer(), three[0], false), 'next');
  });

  it('never falls back across a delete: a 404 the replica marks as deleted goes to the client', () => {
    const { route } = makeRouter();
    for (const path of [`/v2/a/manifests/${D}`, '/v2/a/manifests/latest', `/v2/a/blobs/${D}`]) {
      const check = route(facts('HEAD', path), ctx(three)).checkResponse!;
      assert.equal(check(404, answer({ 'x-ha-proxy-deleted': '1700000000000' }), three[0], false), 'accept', path);
      assert.equal(check(404, answer(), three[0], false), 'next', path);
    }
  });

  it('passes 404s straight through when read fallback is off', () => {
    const { route } = makeRouter({ readFallback: false });
    const check = route(facts('GET', `/v2/a/manifests/${D}`), ctx(three)).checkResponse!;
    assert.equal(check(404, answer(), three[0], false), 'accept');
    assert.equal(check(200, answer({ 'docker-content-digest': 'sha256:00' }), three[0], false), 'next');
  });
});

describe('registry router: sticky cookies for plain traffic', () => {
  it('inserts a signed cookie naming the backend that served, marked private', () => {
    const { route } = makeRouter({ sticky: true });
    const decision = route(facts('GET', '/ui/'), ctx(three));
    const served = decision.candidates[0];
    const headers = respond(decision, 200, { 'set-cookie': ['app=1'], 'cache-control': 'public, max-age=60' }, served);
    assert.deepEqual(headers['set-cookie'], ['app=1', `srv=${signCookieValue(cookieKey, served.name)}; Path=/; HttpOnly; SameSite=Lax`]);
    assert.equal(headers['cache-control'], 'private, max-age=60');
  });

  it('follows a valid cookie, strips it before forwarding, and does not set it again', async () => {
    const { route, metric } = makeRouter({ sticky: true });
    for (let i = 0; i < 5; i++) {
      const decision = route(facts('GET', '/ui/page', { cookie: `a=1; srv=${signCookieValue(cookieKey, 'r2')}` }), ctx(three));
      assert.equal(decision.candidates[0].name, 'r2');
      assert.deepEqual(decision.requestHeaders, { cookie: 'a=1' });
      assert.equal(respond(decision, 200, {}, three[1])['set-cookie'], undefined);
    }
    assert.equal(await metric('haproxy_routing_cookie_redispatches_total'), 0);
  });

  it('re-dispatches when the cookie names a down backend or is forged, and sets a new cookie', async () => {
    const { route, metric } = makeRouter({ sticky: true });
    const toDown = route(facts('GET', '/ui/', { cookie: `srv=${signCookieValue(cookieKey, 'r2')}` }), ctx(three, ['r2']));
    assert.notEqual(toDown.candidates[0].name, 'r2');
    assert.deepEqual(toDown.requestHeaders, { cookie: undefined });
    assert.match(String((respond(toDown, 200, {}, toDown.candidates[0])['set-cookie'] as string[])[0]), /^srv=/);
    route(facts('GET', '/ui/', { cookie: `srv=${Buffer.from('r2').toString('base64url')}.AAAA` }), ctx(three));
    assert.equal(await metric('haproxy_routing_cookie_redispatches_total'), 2);
  });

  it('leaves registry traffic and active-standby alone', () => {
    const sticky = makeRouter({ sticky: true });
    assert.equal(sticky.route(facts('GET', '/v2/'), ctx(three)).requestHeaders, undefined);
    const standby = makeRouter({ mode: 'active-standby', sticky: true });
    assert.equal(standby.route(facts('GET', '/ui/', { cookie: `srv=${signCookieValue(cookieKey, 'r2')}` }), ctx(three)).candidates[0].name, 'r1');
  });
});

describe('registry router: balance', () => {
  it('leaves round-robin to the requests it balances: repository requests in between do not skew it', () => {
    const { route } = makeRouter();
    const two = backends(['r1', 'r2']);
    const picks = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      // A repository request homed by rendezvous hashing, then one the mode router balances.
      assert.equal(route(facts('GET', '/v2/team/app/manifests/latest'), ctx(two)).candidates[0], homeOf('team/app', two));
      const name = route(facts('GET', '/v2/'), ctx(two)).candidates[0].name;
      picks.set(name, (picks.get(name) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(picks), { r1: 50, r2: 50 });
  });
});
