// The durable replication queue: one record per (peer, repository, reference) under
// `_replication/queue/` (through the storage driver), written before the copy starts and
// removed when the peer has it, so a replica that restarts resumes every copy it owed. A newer
// task for the same key replaces the older one (only the latest state of a tag matters).
import { createHash } from 'node:crypto';
import type { StorageDriver } from '../storage/driver.js';
import { storagePath } from '../storage/paths.js';
import { readJsonDir, writeJson } from './durable-files.js';

export type Task =
  | { op: 'put'; repo: string; reference: string; digest: string; mediaType: string; time: number }
  | { op: 'delete'; repo: string; reference: string; time: number };

export interface QueuedTask {
  peer: string;
  /** The (repository, reference) key: a replacement has the same key as the task it replaced. */
  readonly key: string;
  task: Task;
  enqueuedAt: number;
  attempts: number;
  nextAttemptAt: number;
  /** In-memory generation: a completion only removes the task it ran, never a newer replacement. */
  version: number;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex');
/** A peer's directory name: its URL can hold anything a path component cannot. */
const peerKey = (peer: string) => hash(peer).slice(0, 16);

export class WorkQueue {
  private readonly tasks = new Map<string, Map<string, QueuedTask>>();
  /** Serialises file operations per key so a removal never deletes a newer task's file. */
  private readonly fileOps = new Map<string, Promise<void>>();
  private version = 0;

  constructor(private readonly driver: StorageDriver) {}

  private peerDir(peer: string): string {
    return storagePath({ kind: 'replicationQueue', peer: peerKey(peer) });
  }

  private key(task: Task): string {
    return hash(`${task.repo}\n${task.reference}`).slice(0, 40);
  }

  private fileFor(peer: string, key: string): string {
    return storagePath({ kind: 'replicationTask', peer: peerKey(peer), key });
  }

  private serial(file: string, op: () => Promise<void>): Promise<void> {
    const next = (this.fileOps.get(file) ?? Promise.resolve()).then(op, op);
    this.fileOps.set(file, next);
    // The caller gets the failure through `next`; this bookkeeping branch must not surface it again.
    next.finally(() => { if (this.fileOps.get(file) === next) this.fileOps.delete(file); }).catch(() => undefined);
    return next;
  }

  /** Loads the queued tasks of the configured peers (tasks for peers no longer configured are dropped). */
  async load(peers: readonly string[]): Promise<void> {
    for (const peer of peers) {
      const map = this.peerTasks(peer);
      for (const { value } of await readJsonDir<{ peer: string; task: Task; enqueuedAt: number }>(this.driver, this.peerDir(peer))) {
        if (value.peer !== peer || !value.task) continue;
        const key = this.key(value.task);
        map.set(key, { peer, key, task: value.task, enqueuedAt: value.enqueuedAt, attempts: 0, nextAttemptAt: 0, version: ++this.version });
      }
    }
  }

  private peerTasks(peer: string): Map<string, QueuedTask> {
    let map = this.tasks.get(peer);
    if (!map) {
      map = new Map();
      this.tasks.set(peer, map);
    }
    return map;
  }

  /**
   * Durably records the task (replacing any older task for the same key) before returning it.
   * `holdMs` keeps the background runner off it while the caller copies it synchronously.
   */
  async enqueue(peer: string, task: Task, now = Date.now(), holdMs = 0): Promise<QueuedTask> {
    const key = this.key(task);
    const map = this.peerTasks(peer);
    const previous = map.get(key);
    const queued: QueuedTask = { peer, key, task, enqueuedAt: previous?.enqueuedAt ?? now, attempts: 0, nextAttemptAt: now + holdMs, version: ++this.version };
    map.set(key, queued);
    const file = this.fileFor(peer, key);
    await this.serial(file, () => writeJson(this.driver, file, { peer, task, enqueuedAt: queued.enqueuedAt }));
    return queued;
  }

  /** Removes the task if it is still the current one for its key. */
  async complete(queued: QueuedTask): Promise<void> {
    const { key } = queued;
    const map = this.peerTasks(queued.peer);
    if (map.get(key)?.version !== queued.version) return;
    map.delete(key);
    const file = this.fileFor(queued.peer, key);
    await this.serial(file, async () => {
      if (!map.has(key)) await this.driver.delete(file);
    });
  }

  /** True when `queued` is still the latest task for its key. */
  isCurrent(queued: QueuedTask): boolean {
    return this.peerTasks(queued.peer).get(queued.key)?.version === queued.version;
  }

  retryLater(queued: QueuedTask, delayMs: number, now = Date.now()): void {
    queued.attempts += 1;
    queued.nextAttemptAt = now + delayMs;
  }

  /**
   * Tasks due for `peer`, oldest first, skipping the keys in `busy` (being copied now): by key,
   * not by task, so a replacement never runs beside the older version still in flight.
   */
  due(peer: string, now: number, limit: number, busy: { has(key: string): boolean }): QueuedTask[] {
    const out: QueuedTask[] = [];
    for (const queued of this.peerTasks(peer).values()) {
      if (out.length >= limit) break;
      if (queued.nextAttemptAt <= now && !busy.has(queued.key)) out.push(queued);
    }
    return out;
  }

  depth(peer: string): number {
    return this.peerTasks(peer).size;
  }

  /** Enqueue time of the oldest task still owed to `peer`, or undefined when nothing is owed. */
  oldestEnqueuedAt(peer: string): number | undefined {
    let oldest: number | undefined;
    for (const queued of this.peerTasks(peer).values()) if (oldest === undefined || queued.enqueuedAt < oldest) oldest = queued.enqueuedAt;
    return oldest;
  }

  /** Waits for pending file operations (for an orderly stop). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.fileOps.values()]);
  }
}
