import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StartupError } from '../../src/errors/startup-error.js';
import { readJsonDir } from '../../src/registry/replication/durable-files.js';
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import { diffTags } from '../../src/registry/replication/anti-entropy.js';
import { StampStore } from '../../src/registry/replication/stamp-store.js';
import { WorkQueue, type Task } from '../../src/registry/replication/work-queue.js';
import { planReplicas, reusablePorts } from '../../src/supervisor/replica-plan.js';

const put = (reference: string, digest: string, time = 1): Task => ({ op: 'put', repo: 'app', reference, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', time });

describe('replication work queue', () => {
  it('survives a restart: tasks written before a crash are loaded again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rq-'));
    const q1 = new WorkQueue(new FsDriver(dir));
    await q1.enqueue('http://b', put('v1', 'sha256:1'));
    await q1.enqueue('http://b', { op: 'delete', repo: 'app', reference: 'old', time: 2 });
    await q1.enqueue('http://c', put('v1', 'sha256:1'));
    const q2 = new WorkQueue(new FsDriver(dir));
    await q2.load(['http://b']);
    assert.equal(q2.depth('http://b'), 2);
    assert.equal(q2.depth('http://c'), 0, 'tasks of peers no longer configured are not loaded');
  });

  it('keeps only the latest task per tag, and a completion never removes a newer replacement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rq-'));
    const q = new WorkQueue(new FsDriver(dir));
    const first = await q.enqueue('http://b', put('v1', 'sha256:1'));
    const second = await q.enqueue('http://b', put('v1', 'sha256:2'));
    assert.equal(q.depth('http://b'), 1);
    await q.complete(first);
    assert.equal(q.depth('http://b'), 1);
    assert.ok(q.isCurrent(second));
    const reloaded = new WorkQueue(new FsDriver(dir));
    await reloaded.load(['http://b']);
    const [task] = reloaded.due('http://b', Date.now(), 10, new Set());
    assert.equal(task.task.op === 'put' && task.task.digest, 'sha256:2');
    await q.complete(second);
    const empty = new WorkQueue(new FsDriver(dir));
    await empty.load(['http://b']);
    assert.equal(empty.depth('http://b'), 0);
  });

  it('reads a missing queue as empty, but refuses one it cannot read instead of dropping what it owes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rq-'));
    const driver = new FsDriver(dir);
    assert.deepEqual(await readJsonDir(driver, 'not-yet'), []);
    // Running as root, EACCES cannot be provoked; ENOTDIR and EISDIR are the same class: the
    // records exist or may exist, and cannot be read. The driver reports ENOTDIR as "not found".
    writeFileSync(join(dir, 'a-file'), '');
    await assert.rejects(readJsonDir(driver, 'a-file'), (err: unknown) => err instanceof StartupError && /a-file \(ENOTDIR\)/.test(err.message));
    mkdirSync(join(dir, 'queue', 'record.json'), { recursive: true });
    writeFileSync(join(dir, 'queue', 'foreign.json'), 'not json');
    await assert.rejects(readJsonDir(driver, 'queue'), (err: unknown) => err instanceof StartupError && /record\.json \(EISDIR\)/.test(err.message));
  });

  it('never hands out a task whose key is still running, even once the task was replaced', async () => {
    const q = new WorkQueue(new FsDriver(mkdtempSync(join(tmpdir(), 'rq-'))));
    const now = 1_000_000;
    await q.enqueue('http://b', put('v1', 'sha256:1'), now);
    const [running] = q.due('http://b', now, 10, new Set());
    // A newer write of the same tag arrives while the old copy is in flight.
    const replacement = await q.enqueue('http://b', put('v1', 'sha256:2'), now);
    const busy = new Set([running.key]);
    assert.deepEqual(q.due('http://b', now, 10, busy), [], 'the replacement waits until the old copy ends');
    assert.deepEqual(q.due('http://b', now, 10, new Set()), [replacement]);
  });

  it('holds tasks copied synchronously and schedules retries', async () => {
    const q = new WorkQueue(new FsDriver(mkdtempSync(join(tmpdir(), 'rq-'))));
    const now = 1_000_000;
    const held = await q.enqueue('http://b', put('v1', 'sha256:1'), now, 60_000);
    assert.equal(q.due('http://b', now, 10, new Set()).length, 0);
    q.retryLater(held, 500, now);
    assert.equal(q.due('http://b', now + 499, 10, new Set()).length, 0);
    assert.equal(q.due('http://b', now + 500, 10, new Set()).length, 1);
    assert.equal(q.due('http://b', now + 500, 10, new Set([held.key])).length, 0, 'busy tasks are skipped');
    assert.equal(q.oldestEnqueuedAt('http://b'), now);
  });
});

describe('replication stamps', () => {
  it('persists stamps, and forgets tombstones and manifest and blob write stamps past retention', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-'));
    const s = new StampStore(new FsDriver(dir));
    const now = Date.now();
    await s.set({ repo: 'app', reference: 'v1', digest: 'sha256:1', time: now });
    await s.set({ repo: 'app', reference: 'gone', time: now - 1000 });
    await s.set({ repo: 'app', reference: 'ancient', time: now - 10_000 });
    await s.set({ repo: 'app', reference: 'old-tag', digest: 'sha256:1', time: now - 10_000 });
    await s.set({ repo: 'app', reference: `sha256:${'a'.repeat(64)}`, digest: `sha256:${'a'.repeat(64)}`, time: now - 10_000 });
    await s.set({ repo: 'app', reference: `blobs/sha256:${'b'.repeat(64)}`, digest: `sha256:${'b'.repeat(64)}`, time: now - 10_000 });
    await s.set({ repo: 'app', reference: `sha256:${'c'.repeat(64)}`, digest: `sha256:${'c'.repeat(64)}`, time: now - 1000 });
    const loaded = new StampStore(new FsDriver(dir));
    await loaded.load(5000, now);
    assert.equal(loaded.get('app', 'v1')?.digest, 'sha256:1');
    assert.equal(loaded.get('app', 'old-tag')?.time, now - 10_000, 'a tag stamp orders every later write: kept');
    assert.equal(loaded.get('app', `sha256:${'a'.repeat(64)}`), undefined, 'a manifest\'s write stamp past retention only settled deletes');
    assert.equal(loaded.get('app', `blobs/sha256:${'b'.repeat(64)}`), undefined, 'a blob link\'s too');
    assert.ok(loaded.get('app', `sha256:${'c'.repeat(64)}`), 'within retention: kept');
    assert.deepEqual(loaded.tombstones(5000, now).map((t) => t.reference), ['gone']);
    assert.equal(loaded.get('app', 'ancient'), undefined);
    assert.equal(loaded.nextTime('app', 'v1', now - 5), now + 1, 'a new local write is always later than the last one');
  });
});

describe('anti-entropy diff', () => {
  it('repairs tags the peer lacks or holds at another digest', () => {
    const local = [
      { repo: 'app', tag: 'same', digest: 'sha256:1', mediaType: 'm', time: 1 },
      { repo: 'app', tag: 'differs', digest: 'sha256:2', mediaType: 'm', time: 2 },
      { repo: 'app', tag: 'missing', digest: 'sha256:3', mediaType: 'm', time: 3 },
    ];
    const tasks = diffTags(local, new Map([['same', 'sha256:1'], ['differs', 'sha256:9']]));
    assert.deepEqual(tasks.map((t) => t.reference), ['differs', 'missing']);
  });
});

describe('embedded replicas', () => {
  it('plans replicas that each peer with all the others, with storage under the data dir', () => {
    const plans = planReplicas({ dataDir: '/d', ports: [{ listen: 1, admin: 2 }, { listen: 3, admin: 4 }, { listen: 5, admin: 6 }], logLevel: 'info', replication: { ack: 'all' }, drainTimeoutMs: 45_000 });
    assert.deepEqual(plans.map((p) => p.storage), ['/d/replica-1', '/d/replica-2', '/d/replica-3']);
    assert.deepEqual(plans[2].config.registry, { storage: '/d/replica-3', deleteEnabled: true, drainTimeoutMs: 45_000 });
    assert.deepEqual((plans[1].config.replication as { peers: { url: string }[] }).peers, [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:5' }]);
    assert.equal(plans[0].config.mode, 'registry');
    assert.equal(plans[0].config.listen, '127.0.0.1:1');
  });

  it('reuses remembered ports only when they fit', () => {
    assert.deepEqual(reusablePorts([{ listen: 1, admin: 2 }], 1), [{ listen: 1, admin: 2 }]);
    assert.equal(reusablePorts([{ listen: 1, admin: 2 }], 2), undefined);
    assert.equal(reusablePorts('junk', 1), undefined);
  });
});
