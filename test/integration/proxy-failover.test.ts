// active-standby in front of two real registries (Debian's docker-registry), driven by skopeo:
// a pull loop survives a SIGKILL of the primary with zero failed requests, a push after the
// failover lands on the standby, a frozen primary (SIGSTOP) is marked down by `fall` timed-out
// checks, and its return brings traffic back (auto failback).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { buildImageLayout, type Layout } from '../helpers/oci-layout.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const stops: { stop: (signal?: NodeJS.Signals) => Promise<unknown> }[] = [];
after(async () => {
  for (const item of stops.reverse()) await item.stop('SIGKILL');
});

const hostOf = (url: string) => url.replace(/^https?:\/\//, '');

async function registries(): Promise<[DockerRegistry, DockerRegistry]> {
  const a = await startDockerRegistry();
  stops.push(a);
  const b = await startDockerRegistry();
  stops.push(b);
  return [a, b];
}

async function manifestStatus(registryUrl: string, repo: string, tag: string): Promise<number> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
  return res.status;
}

/** Pulls the image's manifest and every blob once, checking digests; returns the failures. */
async function pullOnce(proxyUrl: string, repo: string, layout: Layout): Promise<string[]> {
  const failures: string[] = [];
  try {
    const res = await fetch(`${proxyUrl}/v2/${repo}/manifests/${layout.tag}`, { headers: { accept: OCI_MANIFEST } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) failures.push(`manifest: status ${res.status} ${body.toString()}`);
  } catch (err) {
    failures.push(`manifest: ${String(err)}`);
  }
  for (const digest of layout.blobs.keys()) {
    // The manifest is stored as a blob in the layout, but a registry serves it as a manifest only.
    if (digest === layout.digest) continue;
    try {
      const res = await fetch(`${proxyUrl}/v2/${repo}/blobs/${digest}`);
      const body = Buffer.from(await res.arrayBuffer());
      const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (res.status !== 200) failures.push(`blob ${digest}: status ${res.status} ${body.toString().slice(0, 200)}`);
      else if (got !== digest) failures.push(`blob ${digest}: body digest ${got}`);
    } catch (err) {
      failures.push(`blob ${digest}: ${String(err)}`);
    }
  }
  return failures;
}

function proxyConfig(a: DockerRegistry, b: DockerRegistry, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'active-standby',
    backends: [
      { name: 'primary', url: a.url },
      { name: 'standby', url: b.url },
    ],
    ...extra,
  };
}

describe('active-standby with two docker-registry instances', () => {
  it('copies an image with skopeo, survives a SIGKILL of the primary during a pull loop with zero failures, pushes to the standby after', async (t) => {
    if (!requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
    const [primary, standby] = await registries();
    const proxy: ProxyProcess = await startProxy(proxyConfig(primary, standby));
    stops.push(proxy);
    // A first check that timed out on a busy machine would have failed over; auto failback returns.
    await proxy.waitFor((s) => s.active === 'primary' && s.backends.every((b) => b.up), 'both backends up, primary active');
    const layout = buildImageLayout({ layerSizes: [1024, 16 * 1024, 64 * 1024], tag: 'v1' });

    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${hostOf(proxy.url)}/team/app:v1`);
    assert.equal(await manifestStatus(primary.url, 'team/app', 'v1'), 200, 'the push through the proxy landed on the primary');
    assert.equal(await manifestStatus(standby.url, 'team/app', 'v1'), 404, 'and not on the standby');
    // The standby holds the same image (as a replica would), so reads can fail over.
    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${hostOf(standby.url)}/team/app:v1`);

    let stop = false;
    let rounds = 0;
    let roundsAfterFailover = 0;
    let failedOver = false;
    const failures: string[] = [];
    let loopError: unknown;
    const loop = (async () => {
      while (!stop) {
        failures.push(...(await pullOnce(proxy.url, 'team/app', layout)));
        rounds++;
        if (failedOver) roundsAfterFailover++;
      }
    })().catch((err: unknown) => {
      loopError = err ?? new Error('the pull loop failed');
    });
    // A stalled or failed pull loop fails the test instead of hanging it.
    const untilRounds = async (count: () => number, wanted: number, what: string): Promise<void> => {
      const deadline = Date.now() + 60_000;
      while (count() < wanted) {
        if (loopError !== undefined) throw loopError;
        assert.ok(Date.now() < deadline, `${what}: ${count()} of ${wanted} pull rounds within 60 s`);
        await sleep(10);
      }
    };
    await untilRounds(() => rounds, 5, 'before the failover');
    primary.child.kill('SIGKILL');
    await proxy.waitFor((s) => s.active === 'standby' && !s.backends[0].up, 'failover to the standby');
    failedOver = true;
    await untilRounds(() => roundsAfterFailover, 10, 'after the failover');
    stop = true;
    await loop;
    if (loopError !== undefined) throw loopError;
    const retried = await proxy.metric('haproxy_server_retry_warnings_total', 'server="primary"');
    t.diagnostic(`pull rounds: ${rounds} (${rounds * layout.blobs.size} requests), ${roundsAfterFailover} after the failover; ${retried} retried on the standby`);
    assert.deepEqual(failures.slice(0, 5), [], `no request failed (${failures.length} did)`);
    assert.ok((await proxy.metric('haproxy_backend_failovers_total', 'kind="failover"')) >= 1, 'the failover was counted');

    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${hostOf(proxy.url)}/team/after-failover:v1`);
    assert.equal(await manifestStatus(standby.url, 'team/after-failover', 'v1'), 200, 'the push after failover landed on the standby');
    const back = `${layout.dir}-pulled`;
    await skopeoCopy(`docker://${hostOf(proxy.url)}/team/after-failover:v1`, `oci:${back}:v1`);
  });

  it('marks a frozen primary down after `fall` timed-out checks, serves from the standby, and fails back when it returns', async (t) => {
    if (!requireTool(t, 'docker-registry') || !requireTool(t, 'skopeo')) return;
    const [primary, standby] = await registries();
    const fall = 2;
    // Long enough that a busy machine (the whole suite on 2 cores) does not fail healthy checks.
    const timeoutMs = 1000;
    const proxy = await startProxy(
      proxyConfig(primary, standby, {
        healthCheck: { intervalMs: 200, fastIntervalMs: 100, timeoutMs, fall, rise: 2 },
        failback: { mode: 'auto', delayMs: 1000 },
      }),
    );
    stops.push(proxy);
    await proxy.waitFor((s) => s.active === 'primary' && s.backends.every((b) => b.up), 'both backends up');
    const layout = buildImageLayout({ layerSizes: [2048], tag: 'v1' });

    const logBefore = proxy.output().length;
    const failbacksBefore = await proxy.metric('haproxy_backend_failovers_total', 'kind="failback"');
    const frozenAt = Date.now();
    primary.child.kill('SIGSTOP');
    try {
      await proxy.waitFor((s) => s.active === 'standby', 'failover from the frozen primary');
      const detectedMs = Date.now() - frozenAt;
      // The log line travels through a pipe: it may arrive just after the status changed.
      const findDownLine = () => proxy.output().slice(logBefore).split('\n').find((l) => l.includes('"backend":"primary"') && l.includes('"state":"DOWN"'));
      for (let waited = 0; !findDownLine() && waited < 10_000; waited += 25) await sleep(25);
      const downLine = findDownLine();
      assert.ok(downLine, 'the state change was logged');
      const logged = JSON.parse(downLine) as { reason: string; detail: string; count: number };
      // Down after exactly `fall` checks that each gave up after `timeoutMs`: within timeout * fall
      // of check time (plus the intervals between checks).
      assert.equal(logged.reason, 'check');
      assert.equal(logged.count, fall);
      assert.equal(logged.detail, `timeout after ${timeoutMs} ms`);
      t.diagnostic(`frozen primary marked down ${detectedMs} ms after SIGSTOP (timeout*fall = ${timeoutMs * fall} ms, plus a 200 ms interval and a 100 ms fast interval)`);

      await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${hostOf(proxy.url)}/frozen/during:v1`);
      assert.equal(await manifestStatus(standby.url, 'frozen/during', 'v1'), 200, 'new requests went to the standby');
    } finally {
      primary.child.kill('SIGCONT');
    }
    assert.equal(await manifestStatus(primary.url, 'frozen/during', 'v1'), 404, 'the frozen primary never got the push');

    await proxy.waitFor((s) => s.active === 'primary', 'auto failback to the primary');
    assert.ok((await proxy.metric('haproxy_backend_failovers_total', 'kind="failback"')) > failbacksBefore, 'a failback was counted');
    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${hostOf(proxy.url)}/frozen/after:v1`);
    assert.equal(await manifestStatus(primary.url, 'frozen/after', 'v1'), 200, 'traffic is back on the primary');
    assert.equal(await manifestStatus(standby.url, 'frozen/after', 'v1'), 404);
  });
});
