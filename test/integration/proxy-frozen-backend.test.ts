// A frozen (SIGSTOPped) active backend keeps its connections open and answers nothing, so what
// the proxy sent it just before noticing would wait for `responseHeadersMs` (60 s here) or the
// body idle timeout (120 s). Once the backend is marked DOWN, all of it must end at once: a GET
// whose response has not started is answered by the standby, an upload chunk gets
// BLOB_UPLOAD_UNKNOWN (the client restarts its upload), a response already streaming is cut.
// Checked with one process and with two workers (health is decided in the primary; the worker
// that holds the request must end it). The bound asserted is "before the backend is resumed".
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
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  assert.equal(put.status, 201);
  return digest;
}

/** Reads a streaming body to its end: resolves 'complete', or 'cut' when the transfer broke off. */
async function drain(body: ReadableStreamDefaultReader<Uint8Array>): Promise<'complete' | 'cut'> {
  try {
    for (;;) if ((await body.read()).done) return 'complete';
  } catch {
    return 'cut';
  }
}

for (const workers of [1, 2]) {
  describe(`in-flight requests to a frozen active backend (workers: ${workers})`, { timeout: 180_000 }, () => {
    it('end when it is marked DOWN: GET retried on the standby, upload chunk BLOB_UPLOAD_UNKNOWN, streaming response cut', async () => {
      const [a, b] = await startReplicaSet(2);
      running.push(a, b);
      const proxy = await startProxy(
        {
          mode: 'active-standby',
          workers,
          backends: [{ name: 'a', url: a.url }, { name: 'b', url: b.url }],
          timeouts: { responseHeadersMs: 60_000, idleMs: 120_000 },
        },
        { logLevel: 'warn' },
      );
      running.push(proxy);
      await waitForHttp(`${proxy.url}/v2/`, { statuses: [200], timeoutMs: 60_000 });
      await proxy.waitFor((s) => s.active === 'a' && s.backends.every((x) => x.up), 'both backends up, a active');

      const repo = 'frozen/app';
      const small = Buffer.from('small blob '.repeat(500));
      // Larger than every buffer between the registry and the client, so it is mid-transfer when A freezes.
      const large = Buffer.alloc(64 * 1024 * 1024, 0x5a);
      const smallDigest = await pushBlob(proxy.url, repo, small);
      const largeDigest = await pushBlob(proxy.url, repo, large);
      const onB = async (digest: string) =>
        (await fetch(`${b.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: { 'x-ha-proxy-replication': 'test' } })).status === 200;
      await eventually(async () => (await onB(smallDigest)) && (await onB(largeDigest)), () => 'blobs replicated to b');

      const upload = await fetch(`${proxy.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      await upload.arrayBuffer();
      assert.equal(upload.status, 202);
      const uploadUrl = new URL(upload.headers.get('location')!, proxy.url);

      const streaming = await fetch(`${proxy.url}/v2/${repo}/blobs/${largeDigest}`);
      assert.equal(streaming.status, 200);
      const reader = streaming.body!.getReader();
      assert.equal((await reader.read()).done, false);

      process.kill(a.child.pid!, 'SIGSTOP');
      frozen.add(a.child.pid!);
      // Sent while A is still UP in the proxy's view (the mark-down takes a few checks): both wait on A.
      const chunk = fetch(uploadUrl, { method: 'PATCH', body: Buffer.alloc(4096, 1), headers: { 'content-type': 'application/octet-stream' } })
        .then(async (res) => ({ status: res.status, body: await res.text() }));
      const read = fetch(`${proxy.url}/v2/${repo}/blobs/${smallDigest}`).then(async (res) => ({ status: res.status, digest: sha256(Buffer.from(await res.arrayBuffer())) }));

      const [chunkResult, readResult, streamEnd] = await Promise.all([
        settlesInTime(chunk, 'the upload chunk'),
        settlesInTime(read, 'the GET'),
        settlesInTime(drain(reader), 'the streaming GET'),
      ]);
      assert.ok(isStopped(a.child.pid!), 'A was still frozen when all three ended');
      assert.equal(chunkResult.status, 404, chunkResult.body);
      assert.match(chunkResult.body, /BLOB_UPLOAD_UNKNOWN/);
      assert.deepEqual(readResult, { status: 200, digest: smallDigest });
      assert.equal(streamEnd, 'cut', 'a response broken off is never passed on as complete');
      // Both were in flight to A and ended by its mark-down (not refused up front as A was already DOWN).
      assert.equal(await proxy.metric('haproxy_server_failures_total', 'cause="MARKED_DOWN"'), 2);
      const status = await proxy.status();
      assert.equal(status.active, 'b');

      process.kill(a.child.pid!, 'SIGCONT');
      frozen.delete(a.child.pid!);
    });
  });
}
