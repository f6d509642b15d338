import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildImageLayout, sha256 } from '../helpers/oci-layout.js';
import { freePort } from '../helpers/ports.js';
import { childrenOf, isAlive, startHaProxy, waitForHttp, type Managed } from '../helpers/processes.js';
import { openSocket, readUntilClosed } from '../helpers/raw-tcp.js';
import { call, pushBlob } from '../helpers/registry-process.js';
import { eventually } from '../helpers/replicas.js';
import { skopeoCopy, skopeoDigest } from '../helpers/skopeo.js';
import { requireTool } from '../helpers/tools.js';

const cleanup: Managed[] = [];
after(async () => {
  await Promise.all(cleanup.map((p) => p.stop('SIGKILL')));
});

describe('embedded default: ha-proxy --mode active-standby with no --backend', () => {
  it('without --workers, the proxy serves traffic itself: its only children are the replicas (memory: no primary and workers)', async (t) => {
    if (process.platform !== 'linux') return t.skip('reads /proc');
    const data = mkdtempSync(join(tmpdir(), 'embedded-'));
    const port = await freePort();
    const main = startHaProxy(['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--data', data, '--log-level', 'warn']);
    cleanup.push(main);
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });
    const replicas = ['replica-1', 'replica-2'].map((name) => Number(readFileSync(join(data, `${name}.pid`), 'utf8')));
    assert.deepEqual(childrenOf(main.child.pid!).sort(), [...replicas].sort());
    for (const pid of replicas) {
      // Their young generation is capped (REPLICA_NODE_FLAGS): the memory figures rest on it.
      assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=1'), `replica ${pid} runs without the young-generation cap`);
      // It runs on the config its supervisor validated (handed over on its stdin), so it never
      // loads the config loader.
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.ok(env.includes('HA_PROXY_REPLICA_CONFIG=stdin'), `replica ${pid} was not told its config follows on stdin`);
      assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072'), `replica ${pid} keeps freed buffers in glibc's heap`);
    }
    assert.equal(await main.stop('SIGTERM'), 0);
  });

  it('runs supervised replicas behind the proxy, accepts a skopeo copy, restarts a crashed replica, stops cleanly', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    const data = mkdtempSync(join(tmpdir(), 'embedded-'));
    const port = await freePort();
    const adminPort = await freePort();
    const main = startHaProxy(['--mode', 'active-standby', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--data', data, '--workers', '1', '--log-level', 'warn']);
    cleanup.push(main);
    const base = `127.0.0.1:${port}`;
    await waitForHttp(`http://${base}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });

    const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
    assert.equal(ports.length, 2, 'two replicas by default');
    const layout = buildImageLayout({ layerSizes: [1024, 4096], tag: 'v1' });
    await skopeoCopy(`oci:${layout.dir}:v1`, `docker://${base}/embedded/app:v1`);
    assert.equal(await skopeoDigest(`docker://${base}/embedded/app:v1`), layout.digest);
    for (const p of ports) {
      // Straight from each replica: replicated (ack: all), each with its own storage under --data.
      assert.equal(await skopeoDigest(`docker://127.0.0.1:${p.listen}/embedded/app:v1`), layout.digest);
    }
    // /status (and the status page) carries each replica's replication towards the other: caught up.
    type Replication = { replication?: { peers: { peer: string; queueDepth: number; lagSeconds: number }[] } };
    const replicationOf = async () => ((await (await fetch(`http://127.0.0.1:${adminPort}/status`)).json()) as { backends: Replication[] }).backends.map((b) => b.replication?.peers);
    await eventually(async () => (await replicationOf()).every((peers) => peers?.length === 1 && peers[0].queueDepth === 0), async () => JSON.stringify(await replicationOf()));
    assert.deepEqual((await replicationOf()).map((peers) => peers![0].peer), [`http://127.0.0.1:${ports[1].listen}`, `http://127.0.0.1:${ports[0].listen}`]);

    const pidFile = join(data, 'replica-1.pid');
    const firstPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(firstPid, 'SIGKILL');
    await eventually(
      async () => {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (pid === firstPid || !isAlive(pid)) return false;
        try {
          return (await fetch(`http://127.0.0.1:${ports[0].listen}/v2/`)).status === 200;
        } catch {
          return false;
        }
      },
      () => 'replica-1 was not restarted',
    );

    const pids = [Number(readFileSync(pidFile, 'utf8')), Number(readFileSync(join(data, 'replica-2.pid'), 'utf8'))];
    assert.equal(await main.stop('SIGTERM'), 0);
    await eventually(async () => pids.every((pid) => !isAlive(pid)), () => `replicas still running: ${pids.filter(isAlive).join(', ')}`, 20_000);
  });

  it('replicas stop by themselves when the supervisor is killed with SIGKILL (no orphans on the storage)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'embedded-'));
    const port = await freePort();
    const adminPort = await freePort();
    const main = startHaProxy(['--mode', 'active-active', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--data', data, '--workers', '1', '--log-level', 'warn']);
    cleanup.push(main);
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });
    const pids = ['replica-1', 'replica-2'].map((name) => Number(readFileSync(join(data, `${name}.pid`), 'utf8')));
    assert.ok(pids.every(isAlive));
    await main.stop('SIGKILL');
    await eventually(async () => pids.every((pid) => !isAlive(pid)), () => `orphaned replicas: ${pids.filter(isAlive).join(', ')}`, 20_000);
  });

  it('routing.blobRedirect: the replicas get a kept secret of their own, every worker redirects blob GETs to them', async () => {
    const data = mkdtempSync(join(tmpdir(), 'embedded-'));
    const port = await freePort();
    const file = join(data, 'config.json');
    writeFileSync(file, JSON.stringify({ mode: 'active-standby', listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${await freePort()}`, routing: { blobRedirect: { enabled: true } } }));
    const main = startHaProxy(['--config', file, '--data', data, '--workers', '2', '--log-level', 'warn']);
    cleanup.push(main);
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });
    assert.equal(statSync(join(data, 'blob-redirect.secret')).mode & 0o777, 0o600);
    // The replicas run on a config holding that secret: it reaches them on stdin, never in their
    // environment (readable in /proc/<pid>/environ, printed by tools that dump it).
    const secret = readFileSync(join(data, 'blob-redirect.secret'), 'utf8').trim();
    for (const name of ['replica-1', 'replica-2']) {
      const pid = Number(readFileSync(join(data, `${name}.pid`), 'utf8'));
      assert.ok(!readFileSync(`/proc/${pid}/environ`, 'utf8').includes(secret), `${name}'s environment holds the blob-redirect secret`);
    }
    const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
    const digest = await pushBlob(base, 'embedded/app', 'a layer served by the replica itself');
    // Several requests: with two workers both answer some of them, and each one's signature holds.
    for (let i = 0; i < 6; i++) {
      const res = await call(base, 'GET', `/v2/embedded/app/blobs/${digest}`);
      assert.equal(res.status, 307);
      const location = res.headers.get('location')!;
      assert.ok(location.startsWith(`http://127.0.0.1:${ports[0].listen}/v2/embedded/app/blobs/${digest}?_ha_blob=`), location);
      const blob = await call(`http://127.0.0.1:${ports[0].listen}`, 'GET', location.slice(location.indexOf('/v2/')));
      assert.equal(blob.status, 200, blob.body.toString());
      assert.equal(sha256(blob.body), digest);
    }
    assert.equal(await main.stop('SIGTERM'), 0);
  });

  it('SIGTERM: the supervisor exits only after its replicas drained and stopped (a container or unit would kill them with it)', async () => {
    const data = mkdtempSync(join(tmpdir(), 'embedded-'));
    const port = await freePort();
    const file = join(data, 'config.json');
    // A drain of its own the replica has to sit out: an upload straight to it stays open (blob redirects, a direct client).
    writeFileSync(file, JSON.stringify({ mode: 'active-standby', listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${await freePort()}`, registry: { drainTimeoutMs: 3000 } }));
    const main = startHaProxy(['--config', file, '--data', data, '--workers', '1', '--log-level', 'warn']);
    cleanup.push(main);
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc: main, statuses: [200], timeoutMs: 60_000 });
    const replicaConfig = JSON.parse(readFileSync(join(data, 'replica-1.config.json'), 'utf8')) as { registry: { drainTimeoutMs: number } };
    assert.equal(replicaConfig.registry.drainTimeoutMs, 3000, 'registry.drainTimeoutMs reaches the replicas');
    const replica = `http://127.0.0.1:${(JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports[0].listen}`;
    const start = await fetch(`${replica}/v2/embedded/app/blobs/uploads/`, { method: 'POST' });
    await start.arrayBuffer();
    assert.equal(start.status, 202);
    // Half an upload, on a connection whose request the replica has taken up (its 100 Continue).
    const socket = await openSocket(Number(new URL(replica).port));
    const continued = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(`PATCH ${start.headers.get('location')} HTTP/1.1\r\nHost: replica\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n`);
    await continued;
    socket.write(Buffer.alloc(64 * 1024, 1));
    const upload = readUntilClosed(socket, 60_000);
    const pids = ['replica-1', 'replica-2'].map((name) => Number(readFileSync(join(data, `${name}.pid`), 'utf8')));
    assert.equal(await main.stop('SIGTERM'), 0);
    assert.deepEqual(pids.filter(isAlive), [], 'replicas still running when the supervisor exited');
    assert.ok((await upload).closed, 'the upload left open was cut at the end of the drain');
  });
});
