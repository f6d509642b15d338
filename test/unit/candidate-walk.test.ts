import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Pool } from 'undici';
import type { BackendConfig } from '../../src/config/types.js';
import { createMetricsRegistry } from '../../src/observability/metrics.js';
import type { Logger } from '../../src/observability/logger.js';
import { describeBackends, type Backend } from '../../src/proxy/backend.js';
import { walkCandidates, type Outcome, type WalkDeps } from '../../src/proxy/candidate-walk.js';
import { InFlightList } from '../../src/proxy/in-flight-list.js';
import { createProxyMetrics, type ProxyMetrics } from '../../src/proxy/proxy-metrics.js';
import type { RouteDecision } from '../../src/proxy/route-decision.js';
import type { MarkDownTarget, Upstream } from '../../src/proxy/upstream-pools.js';

/** GET `url`; resolves with the status, or 0 when the connection was cut. */
function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

describe('candidate walk: a throw of the proxy\'s own', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it('is logged and ends the request, and never reaches the server that called the walk', async () => {
    const errors: string[] = [];
    const logger = { error: (_fields: unknown, message: string) => errors.push(message) } as unknown as Logger;
    const deps: WalkDeps = { metrics: {} as ProxyMetrics, logger, inflight: new Map(), reportTraffic: () => {}, publicHost: () => 'proxy' };
    let calls = 0;
    // The access log and metrics of the request throw: the walk runs inside the server's
    // 'request' listener, where a throw would be uncaught and end the process (and this test).
    const done = (_outcome: Outcome): void => {
      calls++;
      throw new Error('bookkeeping failed');
    };
    const server = createServer((req, res) => {
      const facts = { method: 'GET', url: '/v2/', path: '/v2/', query: '', headers: req.headers, hasBody: false };
      const plane = { backends: [], router: { route: () => ({ candidates: [], retries: 0 }) }, upstreams: new Map(), backendOrigins: new Set<string>() };
      walkCandidates(deps, { req, res, facts, decision: { candidates: [], retries: 0 }, plane }, done);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`;
    // The 503 was sent before the bookkeeping threw; the cut that follows may reach the client first.
    assert.ok([503, 0].includes(await get(url)));
    assert.ok([503, 0].includes(await get(url)), 'the server still answers');
    assert.equal(calls, 2);
    assert.deepEqual(errors, ['request failed inside the proxy', 'request failed inside the proxy']);
  });

  it('a routing hook that throws on the answer: 500, logged, and the backend is not blamed', async () => {
    const backendServer = createServer((_req, res) => res.end('blob'));
    servers.push(backendServer);
    await new Promise<void>((resolve) => backendServer.listen(0, '127.0.0.1', resolve));
    const [backend] = describeBackends([{ url: `http://127.0.0.1:${(backendServer.address() as AddressInfo).port}`, weight: 1 } as BackendConfig]);
    const pool = new Pool(backend.origin);
    after(() => pool.close());
    const errors: string[] = [];
    const blamed: string[] = [];
    const logger = { error: (_fields: unknown, message: string) => errors.push(message) } as unknown as Logger;
    const metrics = createProxyMetrics(createMetricsRegistry(), { backends: () => [backend], health: () => [], admin: () => [], inflight: () => [0], takesTraffic: () => true });
    const deps: WalkDeps = { metrics, logger, inflight: new Map(), reportTraffic: (b: Backend, ok: boolean) => void (ok || blamed.push(b.name)), publicHost: () => 'proxy' };
    const outcomes: Outcome[] = [];
    const decision: RouteDecision = {
      candidates: [backend],
      retries: 1,
      editResponseHeaders: () => {
        throw new Error('hook defect');
      },
    };
    const proxy = createServer((req, res) => {
      const facts = { method: 'GET', url: '/v2/', path: '/v2/', query: '', headers: req.headers, hasBody: false };
      const plane = { backends: [backend], router: { route: () => decision }, upstreams: new Map<string, Upstream>([[backend.name, { pool, attempts: new InFlightList<MarkDownTarget>() }]]), backendOrigins: new Set<string>() };
      walkCandidates(deps, { req, res, facts, decision, plane }, (outcome) => outcomes.push(outcome));
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    assert.equal(await get(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v2/`), 500);
    assert.deepEqual(outcomes.map((o) => [o.status, o.failure?.code]), [[500, 'PROXY_FAULT']]);
    assert.deepEqual(errors, ['request failed inside the proxy']);
    assert.deepEqual(blamed, [], 'no passive failure against the backend');
  });
});
