// The admin listener against CSRF and DNS rebinding, on real processes: operator actions need
// the bearer token from admin.tokenFile (refused outright without one configured), and a
// loopback-only listener refuses every request that names it by a foreign host name.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';

const running: (ProxyProcess | RegistryProcess)[] = [];
after(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

/** One request with a chosen Host header (fetch does not let a caller set it). */
function adminRequest(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin listener access', () => {
  // One registry for the suite: each proxy only needs a healthy backend, and nothing writes to it.
  let backend: RegistryProcess;
  before(async () => {
    backend = await startRegistryProcess();
    running.push(backend);
  });

  it('takes POST /failback only with the bearer token', async () => {
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ name: 'a', url: backend.url }], failback: { mode: 'manual' } });
    running.push(proxy);
    const port = new URL(proxy.adminUrl).port;
    // What a page in a local browser can send: a form post with its own Origin, no token.
    const csrf = await adminRequest(proxy.adminUrl, 'POST', '/failback', { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(csrf.status, 401, csrf.body);
    assert.equal((await adminRequest(proxy.adminUrl, 'POST', '/failback', { authorization: 'Bearer not-the-token-at-all' })).status, 401);
    const ok = await adminRequest(proxy.adminUrl, 'POST', '/failback', { authorization: `Bearer ${proxy.adminToken}`, host: `localhost:${port}` });
    assert.equal(ok.status, 200, ok.body);
    assert.equal((JSON.parse(ok.body) as { active: string }).active, 'a');
  });

  it('refuses every operator action when no admin.tokenFile is configured', async () => {
    const proxy = await startProxy({ mode: 'active-standby', backends: [{ url: backend.url }], admin: {} });
    running.push(proxy);
    const posted = await adminRequest(proxy.adminUrl, 'POST', '/failback', { authorization: 'Bearer anything-at-all-goes' });
    assert.equal(posted.status, 403);
    assert.match(posted.body, /admin\.tokenFile/);
    assert.equal((await adminRequest(proxy.adminUrl, 'GET', '/status')).status, 200, 'reads need no token');
  });

  it('refuses reads under a foreign host name on a loopback listener (DNS rebinding), proxy and registry', async () => {
    const registry = backend;
    const proxy = await startProxy({ mode: 'active-active', backends: [{ url: registry.url }] });
    running.push(proxy);
    for (const [base, path] of [[proxy.adminUrl, '/status'], [proxy.adminUrl, '/metrics'], [registry.adminUrl, '/metrics']] as const) {
      const port = new URL(base).port;
      const rebound = await adminRequest(base, 'GET', path, { host: `evil.example:${port}` });
      assert.equal(rebound.status, 403, `${base}${path}: ${rebound.body}`);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        assert.equal((await adminRequest(base, 'GET', path, { host })).status, 200, `${base}${path} as ${host}`);
      }
    }
  });
});
