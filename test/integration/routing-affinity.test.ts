// Three registries with separate storage and no replication behind one proxy in active-active:
// every repository must live on exactly one backend (its rendezvous home), chunked pushes must
// never straddle backends, and a failed backend must take only its own repositories with it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rendezvousOwner } from '../../src/proxy/routing/rendezvous.js';
import { hasManifest, PushClient, pushImage, type PushedImage } from '../helpers/chunked-push.js';
import { startDockerRegistry, type DockerRegistry } from '../helpers/docker-registry.js';
import { startRoutingProxy, waitForBackend, type RunningProxy } from '../helpers/routing-cluster.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { requireTool, toolPath } from '../helpers/tools.js';

const NAMES = ['r1', 'r2', 'r3'];
const REPOS = Array.from({ length: 30 }, (_, i) => `team-${i % 3}/app-${i}`);

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe('routing: per-repository homes in active-active', { timeout: 240_000 }, () => {
  const registries: DockerRegistry[] = [];
  let proxy: RunningProxy | undefined;
  const down = new Set<string>();
  const pushed = new Map<string, PushedImage>();
  /** repository -> the backend holding it after the first round of pushes. */
  const placement = new Map<string, string>();

  const urlOf = (name: string) => registries[NAMES.indexOf(name)].url;
  /** Names of the backends that hold repository:tag, asked directly (not through the proxy). */
  const holders = async (repo: string, tag: string) => {
    const found: string[] = [];
    for (const name of NAMES) if (!down.has(name) && (await hasManifest(urlOf(name), repo, tag))) found.push(name);
    return found;
  };

  before(async () => {
    // Each test calls requireTool, which fails in CI and skips elsewhere when this is missing.
    if (!toolPath('docker-registry')) return;
    for (let i = 0; i < 3; i++) registries.push(await startDockerRegistry());
    proxy = await startRoutingProxy({ backends: NAMES.map((name, i) => ({ name, url: registries[i].url })) });
  });

  after(async () => {
    await proxy?.stop();
    for (const r of registries) await r.stop();
  });

  it('completes 30 concurrent chunked pushes, each landing on exactly one backend: its home', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const client = new PushClient({ base: () => proxy!.url });
    const images = await Promise.all(REPOS.map((repo) => pushImage(client, repo, 'v1')));
    for (const image of images) pushed.set(image.repository, image);
    const counts = new Map<string, number>();
    for (const repo of REPOS) {
      const where = await holders(repo, 'v1');
      assert.equal(where.length, 1, `${repo} is on ${where.join(', ') || 'no backend'}`);
      placement.set(repo, where[0]);
      counts.set(where[0], (counts.get(where[0]) ?? 0) + 1);
      // Every proxy with this backend list computes the same home.
      assert.equal(where[0], rendezvousOwner(NAMES.map((name) => ({ name, weight: 1 })), repo)!.name);
      for (const digest of pushed.get(repo)!.blobs) {
        const res = await fetch(`${urlOf(where[0])}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(res.status, 200, `${repo} blob ${digest} on its home`);
      }
    }
    // Sanity: 30 repositories did not all hash to one backend.
    assert.ok(counts.size >= 2, JSON.stringify([...counts]));
  });

  it('serves every pushed image back through the proxy (skopeo pulls)', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    if (!requireTool(t, 'skopeo')) return;
    const dir = mkdtempSync(join(tmpdir(), 'routing-pull-'));
    const host = new URL(proxy!.url).host;
    await inBatches(REPOS, 6, async (repo) => {
      const target = join(dir, repo.replace('/', '_'));
      await skopeoCopy(`docker://${host}/${repo}:v1`, `oci:${target}:v1`);
      const res = await fetch(`${proxy!.url}/v2/${repo}/manifests/v1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(res.headers.get('docker-content-digest'), pushed.get(repo)!.manifestDigest);
    });
  });

  it('moves only the repositories of a killed backend, and moves them back when it returns', async (t) => {
    if (!requireTool(t, 'docker-registry')) return;
    const victim = 'r2';
    const index = NAMES.indexOf(victim);
    const { port, storage } = registries[index];
    await registries[index].stop('SIGKILL');
    down.add(victim);
    await waitForBackend(proxy!, victim, false);

    const client = new PushClient({ base: () => proxy!.url });
    await Promise.all(REPOS.map((repo) => pushImage(client, repo, 'v2')));
    for (const repo of REPOS) {
      const where = await holders(repo, 'v2');
      assert.equal(where.length, 1, `${repo}:v2 is on ${where.join(', ')}`);
      if (placement.get(repo) === victim) assert.notEqual(where[0], victim);
      else assert.equal(where[0], placement.get(repo), `${repo} stayed on its home while ${victim} was down`);
    }

    registries[index] = await startDockerRegistry({ port, storage });
    down.delete(victim);
    await waitForBackend(proxy!, victim, true);
    await Promise.all(REPOS.map((repo) => pushImage(client, repo, 'v3')));
    for (const repo of REPOS) assert.deepEqual(await holders(repo, 'v3'), [placement.get(repo)], `${repo}:v3 back on its home`);
  });
});
