// Hostile clients all at once, while a normal client keeps pulling through the same proxy: slow
// header tricklers (slowloris), request targets no backend can be sent, header floods and
// uploads cut short. The normal client must see no failure and no backend may go DOWN.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { assertNoBackendCharged, chargesOf } from '../helpers/backend-charges.js';
import { sha256 } from '../helpers/oci-layout.js';
import { startProxiedRegistries, type ProxiedRegistries } from '../helpers/proxied-registries.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { headerFlood, rawExchange, trickleHeaders } from '../helpers/raw-tcp.js';
import { pushBlob } from '../helpers/registry-process.js';

const SLOW_CLIENTS = 100;
const BAD_TARGETS = ['OPTIONS *', 'GET ftp://x/', 'GET *x', 'GET http://user@host/v2/'];
const BAD_TARGET_ROUNDS = 15;
const FLOODS = 10;
const CUT_UPLOADS = 5;
/** Bounds on the normal client: it stops at whichever comes first once the attack is over. */
const MAX_PULLS = 2000;
const MAX_PULL_MS = 60_000;

describe('hostile clients beside a normal one', { timeout: 180_000 }, () => {
  const names = ['h1', 'h2'] as const;
  let set: ProxiedRegistries;
  let proxy: ProxyProcess;

  before(async () => {
    set = await startProxiedRegistries(names, { healthCheck: { errorLimit: 3 }, timeouts: { headersMs: 1000 }, maxConnections: 400 }, { logLevel: 'warn' });
    proxy = set.proxy;
  });

  after(async () => {
    await set?.stop();
  });

  it('serves the normal client without a failure and keeps every backend UP', async () => {
    const blob = randomBytes(64 * 1024);
    const digest = await pushBlob(proxy.url, 'hostile/app', blob);
    const before = await chargesOf(proxy, names);

    let attackOver = false;
    const failures: string[] = [];
    let pulls = 0;
    const normalClient = (async () => {
      const deadline = Date.now() + MAX_PULL_MS;
      while (!attackOver && pulls < MAX_PULLS && Date.now() < deadline) {
        pulls++;
        try {
          const res = await fetch(`${proxy.url}/v2/hostile/app/blobs/${digest}`);
          const body = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200 || sha256(body) !== digest) failures.push(`pull ${pulls}: status ${res.status}`);
        } catch (err) {
          failures.push(`pull ${pulls}: ${String(err)}`);
        }
      }
    })();

    const slow = Promise.all(Array.from({ length: SLOW_CLIENTS }, () => trickleHeaders(proxy.port, 200, 20_000)));
    const bad = (async () => {
      const replies = [];
      for (let round = 0; round < BAD_TARGET_ROUNDS; round++) {
        for (const line of BAD_TARGETS) replies.push({ line, reply: await rawExchange(proxy.port, `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { deadlineMs: 5000 }) });
      }
      return replies;
    })();
    const floods = Promise.all(Array.from({ length: FLOODS }, () =>
      rawExchange(proxy.port, headerFlood('PATCH /v2/hostile/app/blobs/uploads/x HTTP/1.1', 2100, ['Content-Length: 5'], 'hello'), { deadlineMs: 5000 })));
    const cut = (async () => {
      for (let i = 0; i < CUT_UPLOADS; i++) {
        const opened = await fetch(`${proxy.url}/v2/hostile/cut/blobs/uploads/`, { method: 'POST' });
        await opened.arrayBuffer();
        const location = new URL(opened.headers.get('location') ?? '/', proxy.url);
        await rawExchange(proxy.port, `PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(100)}`, { end: true, deadlineMs: 5000 });
      }
    })();

    const [slowReplies, badReplies, floodReplies] = await Promise.all([slow, bad, floods, cut]);
    attackOver = true;
    await normalClient;

    for (const reply of slowReplies) {
      assert.ok(reply.closed, `a slow client was still connected after ${reply.elapsedMs} ms`);
      assert.equal(reply.status, 408);
    }
    for (const { line, reply } of badReplies) assert.equal(reply.status, 400, `${line}: ${reply.text.slice(0, 200)}`);
    for (const reply of floodReplies) assert.equal(reply.status, 431);
    assert.ok(pulls > 0);
    assert.deepEqual(failures, [], `${failures.length} of ${pulls} normal pulls failed`);
    await assertNoBackendCharged(proxy, names, before);
  });
});
