// The status page at GET / in real headless Chromium (Debian's chromium, driven by
// playwright-core): it shows the backends' states as the proxy sees them, follows a SIGKILL of
// one within five seconds, shows the replication queue the survivor builds up for the dead one,
// and its drain button (with the token) changes the state shown and the state the proxy serves.
// Also: served to GET only, under the Host rule, values as text.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PushClient, pushImage } from '../helpers/chunked-push.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { startReplicaSet, type Replica } from '../helpers/replicas.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI) throw new Error('chromium is not installed (apt-get install chromium)');

const stateShown = (page: Page, name: string) => page.locator(`tr[data-backend="${name}"] [data-role="state"]`);
const replicationShown = (page: Page, name: string) => page.locator(`tr[data-backend="${name}"] [data-role="replication"]`);

interface ReplicationView {
  name: string;
  replication?: { peers: { peer: string; up: boolean; queueDepth: number; lagSeconds: number }[] };
}

function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('status page in headless Chromium', { timeout: 120_000, skip: hasChromium ? false : 'chromium is not installed' }, () => {
  let registries: Replica[] = [];
  let proxy: ProxyProcess;
  let browser: BrowserContext;
  let page: Page;

  before(async () => {
    // Built-in replicas replicating to each other, as in the embedded default.
    registries = await startReplicaSet(2);
    proxy = await startProxy({ mode: 'active-standby', backends: registries.map((r, i) => ({ name: i === 0 ? 'primary' : 'standby', url: r.url })) });
    await proxy.waitFor((s) => s.backends.every((b) => b.up), 'both backends up');
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 420 },
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await proxy?.stop();
    await Promise.all(registries.map((r) => r.stop('SIGKILL')));
  });

  it('is one self-contained page, served to GET only and under the Host rule', async () => {
    const res = await fetch(`${proxy.adminUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'no external assets');
    assert.equal((await fetch(`${proxy.adminUrl}/`, { method: 'POST' })).status, 405);
    assert.equal(await getWithHost(`${proxy.adminUrl}/`, 'evil.example'), 403);
  });

  it('the replicas give their replication figures only to a request with the replication header, which the proxy strips', async () => {
    assert.equal((await fetch(`${registries[0].url}/v2/_replication/state`)).status, 404);
    const forged = await fetch(`${proxy.url}/v2/_replication/state`, { headers: { 'x-ha-proxy-replication': 'a client' } });
    assert.equal(forged.status, 404);
    const asked = await fetch(`${registries[0].url}/v2/_replication/state`, { headers: { 'x-ha-proxy-replication': 'test' } });
    const body = (await asked.json()) as { epoch: string; peers: { peer: string; queueDepth: number }[] };
    assert.deepEqual(body.peers.map((p) => [p.peer, p.queueDepth]), [[registries[1].url, 0]]);
  });

  it('shows both backends UP, one DOWN within five seconds of its SIGKILL, and drains with the token', async () => {
    // Some traffic, so the page has rates and bytes to show.
    for (let i = 0; i < 20; i++) await (await fetch(`${proxy.url}/v2/`)).arrayBuffer();
    await page.goto(`${proxy.adminUrl}/`);
    // A string: the test is compiled without the DOM types; this runs in the page.
    await page.waitForFunction(`[...document.querySelectorAll('[data-role="state"]')].filter((e) => e.textContent === 'UP').length === 2`);
    assert.equal(await page.locator('#active').textContent(), 'primary');
    assert.equal(await page.locator('button[data-action]').count(), 0, 'no buttons without a token');

    // Each replica's queue towards its one peer, empty while both are up.
    for (const name of ['primary', 'standby']) await replicationShown(page, name).filter({ hasText: /queue 0 · lag 0\.0 s/ }).waitFor({ timeout: 10_000 });
    assert.match((await replicationShown(page, 'primary').textContent()) ?? '', new RegExp(`to ${registries[1].url}`));

    await registries[1].stop('SIGKILL');
    await stateShown(page, 'standby').filter({ hasText: 'DOWN' }).waitFor({ timeout: 5000 });
    assert.equal(await stateShown(page, 'primary').textContent(), 'UP');

    // A push lands on the survivor, which owes it to the dead peer: the page shows the queue.
    await pushImage(new PushClient({ base: () => proxy.url }), 'status/app', 'v1', { layerBytes: 32 * 1024, chunkBytes: 16 * 1024 });
    await replicationShown(page, 'primary').filter({ hasText: /queue [1-9][0-9]* · lag [0-9.]+ s · peer down/ }).waitFor({ timeout: 10_000 });
    const owed = ((await (await fetch(`${proxy.adminUrl}/status`)).json()) as { backends: ReplicationView[] }).backends;
    const peer = owed[0].replication!.peers[0];
    assert.deepEqual([peer.peer, peer.up], [registries[1].url, false]);
    assert.ok(peer.queueDepth >= 1, `queue depth ${peer.queueDepth}`);
    assert.equal(owed[1].replication, undefined, 'no figures from a replica that does not answer');

    await page.fill('#token', proxy.adminToken);
    await page.click('#token-form button[type="submit"]');
    const drain = page.locator('tr[data-backend="primary"] button[data-action="drain"]');
    await drain.click();
    await stateShown(page, 'primary').filter({ hasText: 'DRAIN' }).waitFor({ timeout: 10_000 });
    const served = (await proxy.status()) as unknown as { backends: { name: string; admin: string }[] };
    assert.equal(served.backends[0].admin, 'drain');

    // The README's screenshot is rewritten only when asked (UPDATE_SCREENSHOT=1 npm test), so a
    // test run leaves the checkout clean; otherwise the picture still has to render.
    const shots = process.env.UPDATE_SCREENSHOT === '1' ? join(REPO_ROOT, 'docs') : mkdtempSync(join(tmpdir(), 'ha-proxy-shot-'));
    mkdirSync(shots, { recursive: true });
    const png = await page.screenshot({ path: join(shots, 'status-page.png'), fullPage: true });
    assert.ok(png.length > 1000, 'the screenshot has content');
  });

  it('a wrong token is refused by the server and changes nothing', async () => {
    await page.fill('#token', 'not-the-admin-token-at-all');
    await page.click('#token-form button[type="submit"]');
    await page.locator('tr[data-backend="primary"] button[data-action="ready"]').click();
    await page.locator('#action').filter({ hasText: 'refused (401)' }).waitFor({ timeout: 10_000 });
    const served = (await proxy.status()) as unknown as { backends: { admin: string }[] };
    assert.equal(served.backends[0].admin, 'drain');
  });

  it('shows operator text as text, never as markup', async () => {
    const reason = '<img src=x onerror="window.pwned=1">';
    const res = await fetch(`${proxy.adminUrl}/backends/primary/weight`, {
      method: 'POST',
      headers: { authorization: `Bearer ${proxy.adminToken}` },
      body: JSON.stringify({ weight: 3, reason }),
    });
    assert.equal(res.status, 200);
    await page.locator('tr[data-backend="primary"]').filter({ hasText: reason }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.evaluate('window.pwned'), undefined);
  });
});
