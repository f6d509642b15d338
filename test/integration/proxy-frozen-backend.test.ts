// A frozen (SIGSTOPped) active backend keeps its connections open and answers nothing, so what
// the proxy sent it just before noticing would wait for `responseHeadersMs` (60 s here). Once the
// backend is marked DOWN, what waits for a response must end at once: a GET whose response has
// not started is answered by the standby, an upload chunk gets BLOB_UPLOAD_UNKNOWN (the client
// restarts its upload). Transfers whose bytes are moving (a response streaming, an upload body
// still being sent) go on by default: the backend may be slow but alive (here: resumed after the
// mark-down), and they complete intact; with `healthCheck.onMarkedDown: shutdown-sessions` they
// are cut at the mark-down. A backend that stays frozen mid-body is still cut, by the body idle
// timeout. Checked with one process and with two workers (health is decided in the primary; the
// worker that holds the request must end it). The bound asserted is "before the backend is resumed".
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { eventually, startReplicaSet, type Replica } from '../helpers/replicas.js';
import { waitForHttp } from '../helpers/processes.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
/** Far beyond any mark-down (about 2 s with these checks), far below the timeouts that bounded it before. */
const DEADLINE_MS = 30_000;
/** The upload streamed across the freeze: one part before it, one after. */
const UPLOAD_PART = Buffer.alloc(256 * 1024, 7);

const running: Array<Replica | ProxyProcess> = [];
const frozen = new Set<number>();
after(async () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  for (const p of running) await p.stop('SIGKILL');
});

function isStopped(pid: number): boolean {
  // Field 3 of /proc/<pid>/stat is the state: T = stopped by a signal.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
}

function freeze(replica: Replica): void {
  process.kill(replica.child.pid!, 'SIGSTOP');
  frozen.add(replica.child.pid!);
}

function resume(replica: Replica): void {
  process.kill(replica.child.pid!, 'SIGCONT');
  frozen.delete(replica.child.pid!);
}

/** Rejects when `promise` is not settled within the deadline: it was still waiting on the frozen backend. */
function settlesInTime<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waiting on the frozen backend after ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const location = await startUpload(base, repo);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  assert.equal(put.status, 201);
  return digest;
}

async function startUpload(base: string, repo: string): Promise<URL> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  assert.equal(start.status, 202);
  return new URL(start.headers.get('location')!, base);
}

/** A streaming response read to its end: 'complete' with the digest of what came, or 'cut'. */
interface Download {
  /** True once the transfer has ended either way. */
  readonly ended: boolean;
  readonly result: Promise<{ outcome: 'complete'; digest: string } | { outcome: 'cut' }>;
}

/** Starts a blob GET and reads its first bytes, so the transfer is under way. */
async function startDownload(url: string): Promise<Download> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const hash = createHash('sha256');
  const first = await reader.read();
  assert.equal(first.done, false);
  hash.update(first.value!);
  const state = { ended: false };
  const result = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { outcome: 'complete' as const, digest: `sha256:${hash.digest('hex')}` };
        hash.update(value);
      }
    } catch {
      return { outcome: 'cut' as const };
    } finally {
      state.ended = true;
    }
  })();
  return {
    get ended() {
      return state.ended;
    },
    result,
  };
}

/** A PATCH whose body the test sends part by part: still being uploaded until `end()`. */
function startStreamingPatch(url: URL): { send(part: Buffer): void; end(): void; result: Promise<{ status: number; range: string | null; body: string }> } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  // `duplex` is required for a streaming request body; the DOM RequestInit type does not list it.
  const init = { method: 'PATCH', body, duplex: 'half', headers: { 'content-type': 'application/octet-stream' } } as RequestInit;
  const result = fetch(url, init).then(async (res) => ({ status: res.status, range: res.headers.get('range'), body: await res.text() }));
  return { send: (part) => controller.enqueue(part), end: () => controller.close(), result };
}

interface Scene {
  a: Replica;
  b: Replica;
  proxy: ProxyProcess;
  repo: string;
  smallDigest: string;
  largeDigest: string;
}

/** Two replicas, a active, both blobs on both, behind a proxy with `config` merged in. */
async function setUp(workers: number, config: Record<string, unknown>): Promise<Scene> {
  const [a, b] = await startReplicaSet(2);
  running.push(a, b);
  const proxy = await startProxy(
    { mode: 'active-standby', workers, backends: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }], timeouts: { responseHeadersMs: 60_000, idleMs: 120_000 }, ...config },
    { logLevel: 'warn' },
  );
  running.push(proxy);
  await waitForHttp(`${proxy.url}/v2/`, { statuses: [200], timeoutMs: 60_000 });
  await proxy.waitFor((s) => s.active === 'a' && s.backends.every((x) => x.up), 'both backends up, a active');
  const repo = 'frozen/app';
  const smallDigest = await pushBlob(proxy.url, repo, Buffer.from('small blob '.repeat(500)));
  // Larger than every buffer between the registry and the client, so it is mid-transfer when A freezes.
  const largeDigest = await pushBlob(proxy.url, repo, Buffer.alloc(64 * 1024 * 1024, 0x5a));
  const onB = async (digest: string) =>
    (await fetch(`${b.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: { 'x-ha-proxy-replication': 'test' } })).status === 200;
  await eventually(async () => (await onB(smallDigest)) && (await onB(largeDigest)), () => 'blobs replicated to b');
  return { a, b, proxy, repo, smallDigest, largeDigest };
}

/**
 * Freezes A with a download streaming and an upload body half sent, then sends a GET and an
 * upload chunk that wait on A; resolves once those two ended (A was marked DOWN), A still frozen.
 */
async function freezeWithTransfers(scene: Scene): Promise<{ download: Download; upload: ReturnType<typeof startStreamingPatch> }> {
  const { a, proxy, repo } = scene;
  const chunkUrl = await startUpload(proxy.url, repo);
  const upload = startStreamingPatch(await startUpload(proxy.url, repo));
  upload.send(UPLOAD_PART);
  const download = await startDownload(`${proxy.url}/v2/${repo}/blobs/${scene.largeDigest}`);
  await eventually(async () => (await proxy.metric('haproxy_server_current_sessions', 'server="a"')) === 2, () => 'the download and the upload in flight to a');

  freeze(a);
  // Sent while A is still UP in the proxy's view (the mark-down takes a few checks): both wait on A.
  const chunk = fetch(chunkUrl, { method: 'PATCH', body: Buffer.alloc(4096, 1), headers: { 'content-type': 'application/octet-stream' } }).then(async (res) => ({ status: res.status, body: await res.text() }));
  const read = fetch(`${proxy.url}/v2/${repo}/blobs/${scene.smallDigest}`).then(async (res) => ({ status: res.status, digest: sha256(Buffer.from(await res.arrayBuffer())) }));
  const [chunkResult, readResult] = await Promise.all([settlesInTime(chunk, 'the upload chunk'), settlesInTime(read, 'the GET')]);
  assert.ok(isStopped(a.child.pid!), 'A was still frozen when both ended');
  assert.equal(chunkResult.status, 404, chunkResult.body);
  assert.match(chunkResult.body, /BLOB_UPLOAD_UNKNOWN/);
  assert.deepEqual(readResult, { status: 200, digest: scene.smallDigest });
  assert.equal((await proxy.status()).active, 'b');
  return { download, upload };
}

for (const workers of [1, 2]) {
  describe(`in-flight requests to a frozen active backend (workers: ${workers})`, { timeout: 240_000 }, () => {
    it('when it is marked DOWN, those waiting for a response end and moving transfers go on: resumed, both complete intact', async () => {
      const scene = await setUp(workers, {});
      const { download, upload } = await freezeWithTransfers(scene);
      assert.equal(download.ended, false, 'the download was not cut by the mark-down');

      resume(scene.a);
      upload.send(UPLOAD_PART);
      upload.end();
      const uploaded = await upload.result;
      assert.equal(uploaded.status, 202, uploaded.body);
      assert.equal(uploaded.range, `0-${2 * UPLOAD_PART.length - 1}`);
      assert.deepEqual(await download.result, { outcome: 'complete', digest: scene.largeDigest });
      // Only the two that waited for a response were ended by the mark-down.
      assert.equal(await scene.proxy.metric('haproxy_server_failures_total', 'cause="MARKED_DOWN"'), 2);
    });
  });
}

describe('healthCheck.onMarkedDown and a backend that stays frozen', { timeout: 240_000 }, () => {
  it('shutdown-sessions: the mark-down cuts the streaming download and the upload in progress too', async () => {
    const scene = await setUp(1, { healthCheck: { onMarkedDown: 'shutdown-sessions' } });
    const { download, upload } = await freezeWithTransfers(scene);
    assert.deepEqual(await settlesInTime(download.result, 'the streaming GET'), { outcome: 'cut' }, 'a response broken off is never passed on as complete');
    const uploaded = await settlesInTime(upload.result, 'the upload in progress');
    assert.ok(isStopped(scene.a.child.pid!), 'A was still frozen when both were cut');
    assert.equal(uploaded.status, 404, uploaded.body);
    assert.match(uploaded.body, /BLOB_UPLOAD_UNKNOWN/);
    upload.end();
    resume(scene.a);
  });

  it('finish-transfers: a download from a backend frozen for good is cut by the body idle timeout, after the mark-down', async () => {
    // Far above the mark-down (about 2 s: two 1 s check timeouts), so the order below is the
    // timeouts', not a race; the test waits all of it for the cut.
    const idleMs = 10_000;
    const scene = await setUp(1, { timeouts: { responseHeadersMs: 60_000, idleMs } });
    const download = await startDownload(`${scene.proxy.url}/v2/${scene.repo}/blobs/${scene.largeDigest}`);
    freeze(scene.a);
    await scene.proxy.waitFor((s) => s.backends.some((x) => x.name === 'a' && !x.up), 'a marked DOWN');
    assert.equal(download.ended, false, 'the download was not cut by the mark-down');
    assert.deepEqual(await download.result, { outcome: 'cut' }, 'a response broken off is never passed on as complete');
    assert.ok(isStopped(scene.a.child.pid!), 'A was still frozen when the download was cut');
    resume(scene.a);
  });
});
