import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changesRound } from '../../src/registry/replication/anti-entropy.js';
import { ChangeJournal } from '../../src/registry/replication/change-journal.js';
import { compileContentFilter } from '../../src/registry/replication/content-filter.js';
import type { ReplicaStore } from '../../src/registry/replication/replica-store.js';
import { planRound, type PeerCursor } from '../../src/registry/replication/round-plan.js';
import type { StampRecord } from '../../src/registry/replication/stamp-store.js';

describe('change journal', () => {
  it('lists each changed reference once, at its latest sequence number, and forgets what every peer saw', () => {
    const journal = new ChangeJournal();
    journal.record('app', 'v1');
    journal.record('app', 'v2');
    const seen = journal.seq;
    journal.record('app', 'v1');
    journal.record('lib', 'v1');
    assert.deepEqual(journal.since(seen).map((c) => `${c.repo}:${c.reference}`), ['app:v1', 'lib:v1']);
    journal.compact(seen);
    assert.equal(journal.size, 2);
    journal.compact(journal.seq);
    assert.equal(journal.size, 0);
  });

  it('past its bound it clears itself and changes generation (cursors from before are void)', () => {
    const journal = new ChangeJournal(2);
    journal.record('a', '1');
    journal.record('a', '2');
    assert.equal(journal.generation, 0);
    journal.record('a', '3');
    assert.equal(journal.generation, 1);
    assert.deepEqual(journal.since(0).map((c) => c.reference), ['3']);
  });
});

describe('round plan', () => {
  const cursor: PeerCursor = { peerEpoch: 'e1', journalGeneration: 0, seq: 10, fullAt: 1000 };
  const base = { cursor, peerEpoch: 'e1', journalGeneration: 0, now: 2000, fullIntervalMs: 60_000 };
  it('changes only while the peer and the journal are the ones the last round saw', () => {
    assert.equal(planRound(base), 'changes');
  });
  it('a full comparison on start, after a peer reset, for a peer without an epoch, after a cleared journal, and every fullIntervalMs', () => {
    assert.equal(planRound({ ...base, cursor: undefined }), 'full');
    assert.equal(planRound({ ...base, peerEpoch: 'e2' }), 'full');
    assert.equal(planRound({ ...base, peerEpoch: undefined }), 'full');
    assert.equal(planRound({ ...base, journalGeneration: 1 }), 'full');
    assert.equal(planRound({ ...base, now: 61_000 }), 'full');
    assert.equal(planRound({ ...base, now: 1e9, fullIntervalMs: 0 }), 'changes');
  });
});

describe('changes round', () => {
  const store = {
    getManifest: async (_repo: string, reference: string) =>
      reference === 'v1' || reference === 'v2' ? { body: Buffer.from('{}'), mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${reference}` } : undefined,
  } as unknown as ReplicaStore;
  const stamps = new Map<string, StampRecord>([
    ['app\nv1', { repo: 'app', reference: 'v1', digest: 'sha256:v1', time: 5 }],
    ['app\ngone', { repo: 'app', reference: 'gone', time: 7 }],
  ]);

  it('asks the peer about each change once: puts what it lacks, deletes what it still holds, skips filtered ones', async () => {
    const asked: string[] = [];
    const peer = {
      headManifest: async (repo: string, reference: string) => {
        asked.push(`HEAD ${repo}:${reference}`);
        return reference === 'v2' ? { digest: 'sha256:v2' } : undefined;
      },
      tags: async (repo: string) => {
        asked.push(`tags ${repo}`);
        return ['gone'];
      },
      hasBlob: async (repo: string, digest: string) => {
        asked.push(`blob ${repo}:${digest}`);
        return true;
      },
    };
    const tasks = await changesRound(
      { store, peer, filter: compileContentFilter([{ repository: 'app' }]), stamps: { get: (r, ref) => stamps.get(`${r}\n${ref}`), tombstones: () => [] }, tombstoneRetentionMs: 60_000 },
      [{ repo: 'app', reference: 'v1' }, { repo: 'app', reference: 'v2' }, { repo: 'app', reference: 'gone' }, { repo: 'other', reference: 'v1' }],
      10,
    );
    assert.deepEqual(tasks, [
      { op: 'put', repo: 'app', reference: 'v1', digest: 'sha256:v1', mediaType: 'application/vnd.oci.image.manifest.v1+json', time: 5 },
      { op: 'delete', repo: 'app', reference: 'gone', time: 7 },
    ]);
    assert.deepEqual(asked, ['HEAD app:v1', 'HEAD app:v2', 'tags app']);
  });
});
