import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileContentFilter, globToRegExp } from '../../src/registry/replication/content-filter.js';
import { nextLink } from '../../src/registry/replication/peer-client.js';
import { ackWait, missedAck, pumpAction } from '../../src/registry/replication/peer-state.js';
import { prepareRequestHeaders } from '../../src/proxy/headers.js';
import { REPLICATION_HEADER, REPLICATION_TIME_HEADER, replicationMark } from '../../src/oci/replication-headers.js';
import { verifyDigest } from '../../src/registry/replication/on-demand.js';
import { copyScope, incomingWins, replicatedDeleteOutcome, type Stamp } from '../../src/registry/replication/tag-resolution.js';
import { decideAck, majorityOf, type PeerOutcome } from '../../src/registry/replication/write-concern.js';

describe('replication convergence rule', () => {
  it('stores of a peer\'s manifest copy only what wins over the tombstone and the tag stamps held here', () => {
    const incoming = { time: 10, digest: 'sha256:a' };
    const stamps = new Map<string, Stamp>([['newer', { time: 11, digest: 'sha256:b' }], ['older', { time: 9, digest: 'sha256:b' }], ['deleted-later', { time: 12 }]]);
    const tagStamp = (tag: string) => stamps.get(tag);
    assert.deepEqual(copyScope(incoming, undefined, ['newer', 'older', 'deleted-later', 'unknown'], tagStamp), { manifest: true, tags: ['older', 'unknown'] });
    assert.deepEqual(copyScope(incoming, 11, ['older'], tagStamp), { manifest: false, tags: [] }, 'the digest was deleted here after the copy was written');
    assert.deepEqual(copyScope(incoming, 9, ['older'], tagStamp), { manifest: true, tags: ['older'] }, 'a delete older than the copy loses');
  });

  it('lets the later write win', () => {
    assert.equal(incomingWins({ time: 10, digest: 'sha256:b' }, { time: 11, digest: 'sha256:a' }), true);
    assert.equal(incomingWins({ time: 11, digest: 'sha256:a' }, { time: 10, digest: 'sha256:b' }), false);
  });

  it('breaks a tie by the greater digest, and a delete beats a put at the same time', () => {
    assert.equal(incomingWins({ time: 10, digest: 'sha256:a' }, { time: 10, digest: 'sha256:b' }), true);
    assert.equal(incomingWins({ time: 10, digest: 'sha256:b' }, { time: 10, digest: 'sha256:a' }), false);
    assert.equal(incomingWins({ time: 10, digest: 'sha256:b' }, { time: 10 }), true);
    assert.equal(incomingWins({ time: 10 }, { time: 10, digest: 'sha256:b' }), false);
  });

  it('does not re-apply the same write, and accepts anything when nothing is known', () => {
    assert.equal(incomingWins({ time: 10, digest: 'sha256:a' }, { time: 10, digest: 'sha256:a' }), false);
    assert.equal(incomingWins(undefined, { time: 0, digest: 'sha256:a' }), true);
  });

  it('tells a peer\'s delete delivered again from one that lost to a newer write', () => {
    assert.equal(replicatedDeleteOutcome(undefined, 10), 'record');
    assert.equal(replicatedDeleteOutcome({ time: 9, digest: 'sha256:a' }, 10), 'record');
    assert.equal(replicatedDeleteOutcome({ time: 10, digest: 'sha256:a' }, 10), 'record', 'a delete beats a put at the same time');
    assert.equal(replicatedDeleteOutcome({ time: 9 }, 10), 'record');
    // The same delete again (a late ack copy and its retry): nothing to put back.
    assert.equal(replicatedDeleteOutcome({ time: 10 }, 10), 'deleted-already');
    assert.equal(replicatedDeleteOutcome({ time: 11 }, 10), 'deleted-already');
    assert.equal(replicatedDeleteOutcome({ time: 11, digest: 'sha256:a' }, 10), 'write-wins');
  });

  it('converges whatever order two replicas receive concurrent writes in', () => {
    const writes: Stamp[] = [
      { time: 5, digest: 'sha256:c' },
      { time: 7, digest: 'sha256:a' },
      { time: 7, digest: 'sha256:b' },
      { time: 6 },
    ];
    const apply = (order: Stamp[]) => order.reduce<Stamp | undefined>((cur, w) => (incomingWins(cur, w) ? w : cur), undefined);
    const orders = [writes, [...writes].reverse(), [writes[2], writes[0], writes[3], writes[1]]];
    for (const order of orders) assert.deepEqual(apply(order), { time: 7, digest: 'sha256:b' });
  });
});

describe('replication write concern', () => {
  const stored = (peer: string): PeerOutcome => ({ peer, result: 'stored' });
  const down = (peer: string): PeerOutcome => ({ peer, result: 'unavailable', reason: 'connect ECONNREFUSED' });
  const refused = (peer: string): PeerOutcome => ({ peer, result: 'refused', reason: 'HTTP 400' });

  it('computes a majority of all replicas', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(majorityOf), [1, 2, 2, 3, 3]);
  });

  it('acks all when every healthy peer stored it, dropping peers that did not answer', () => {
    assert.deepEqual(decideAck('all', [stored('b'), down('c')]), { ok: true, holders: 2 });
  });

  it('fails ack all when a peer refused the content', () => {
    const decision = decideAck('all', [stored('b'), refused('c')]);
    assert.equal(decision.ok, false);
    assert.ok(!decision.ok && decision.code === 'UNAVAILABLE' && decision.message.includes('c: HTTP 400'));
  });

  it('fails majority without a majority of all replicas, naming the count', () => {
    const decision = decideAck('majority', [down('b'), down('c')]);
    assert.equal(decision.ok, false);
    assert.ok(!decision.ok && decision.message.includes('1 of 3 replicas hold the manifest, 2 required'), !decision.ok ? decision.message : '');
    assert.deepEqual(decideAck('majority', [stored('b'), down('c')]), { ok: true, holders: 2 });
  });

  it('names the write it refuses (a delete goes through the same write concern)', () => {
    const decision = decideAck('majority', [down('b')], 'the delete');
    assert.ok(!decision.ok && decision.message.includes('1 of 2 replicas hold the delete, 2 required'), !decision.ok ? decision.message : '');
  });

  it('acks one at once whatever the peers did', () => {
    assert.deepEqual(decideAck('one', [down('b')]), { ok: true, holders: 1 });
  });
});

describe('how an ack waits on a peer', () => {
  it('has the background queue probe a down peer only when due and idle, and fill an up one to its concurrency', () => {
    const now = 1000;
    assert.deepEqual(pumpAction({ down: true, nextProbeAt: now }, 0, 4, now), { kind: 'probe' });
    assert.deepEqual(pumpAction({ down: true, nextProbeAt: now + 1 }, 0, 4, now), { kind: 'wait' }, 'the probe is not due');
    assert.deepEqual(pumpAction({ down: true, nextProbeAt: now }, 1, 4, now), { kind: 'wait' }, 'a copy of it still runs');
    assert.deepEqual(pumpAction({ down: false, nextProbeAt: 0 }, 1, 4, now), { kind: 'copy', free: 3 });
    assert.deepEqual(pumpAction({ down: false, nextProbeAt: 0 }, 4, 4, now), { kind: 'wait' });
  });

  it('skips a down peer, waits briefly on one that missed its last ack, and fully on the others', () => {
    const table: Array<[down: boolean, missedLastAck: boolean, expected: ReturnType<typeof ackWait>]> = [
      [false, false, { skip: false, withinMs: undefined }],
      [false, true, { skip: false, withinMs: 1000 }],
      [true, false, { skip: true }],
      [true, true, { skip: true }],
    ];
    for (const [down, missedLastAck, expected] of table) {
      assert.deepEqual(ackWait({ down, missedLastAck }, 5000), expected, `down ${down}, missed ${missedLastAck}`);
    }
    const suspect = ackWait({ down: false, missedLastAck: true }, 1);
    assert.ok(!suspect.skip && suspect.withinMs === 1, 'never a zero wait');
  });

  it('keeps a peer suspect until it answers an ack (a refusal is an answer)', () => {
    assert.deepEqual((['stored', 'refused', 'unavailable'] as const).map(missedAck), [false, false, true]);
  });
});

describe('replication content filters', () => {
  it('matches globs with * inside one component and ** across components', () => {
    assert.ok(globToRegExp('team-a/*').test('team-a/app'));
    assert.ok(!globToRegExp('team-a/*').test('team-a/x/app'));
    assert.ok(globToRegExp('team-a/**').test('team-a/x/app'));
    assert.ok(globToRegExp('**/base').test('base'));
    assert.ok(globToRegExp('a.b?').test('a.bc'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });

  it('replicates everything without filters, and only matching repositories and tags with them', () => {
    assert.ok(compileContentFilter([]).tag('any', 'thing'));
    const filter = compileContentFilter([{ repository: 'prod/**', tags: '^v[0-9]' }, { repository: 'tools' }]);
    assert.ok(filter.repository('prod/api'));
    assert.ok(!filter.repository('dev/api'));
    assert.ok(filter.tag('prod/api', 'v1.2'));
    assert.ok(!filter.tag('prod/api', 'latest'));
    assert.ok(filter.tag('tools', 'latest'));
  });
});

describe('replication helpers', () => {
  it('recognises replication traffic by its header', () => {
    assert.equal(replicationMark({}), undefined);
    assert.deepEqual(replicationMark({ 'x-ha-proxy-replication': '127.0.0.1:5001', 'x-ha-proxy-replication-time': '1700000000000' }), {
      origin: '127.0.0.1:5001',
      time: 1700000000000,
    });
    assert.deepEqual(replicationMark({ 'x-ha-proxy-replication': 'a', 'x-ha-proxy-replication-time': 'soon' }), { origin: 'a', time: undefined });
  });

  it('verifies fetched manifest bytes against the digest they were asked by', () => {
    const body = Buffer.from('{"schemaVersion":2}');
    const good = verifyDigest(body, undefined);
    assert.match(good, /^sha256:[0-9a-f]{64}$/);
    assert.equal(verifyDigest(body, good), good);
    assert.throws(() => verifyDigest(Buffer.from('tampered'), good), /digest mismatch/);
    assert.throws(() => verifyDigest(body, 'md5:abc'), /unsupported/);
  });

  it('the proxy strips the replication markers from client requests', () => {
    const headers = { host: 'reg', [REPLICATION_HEADER]: 'forged', [REPLICATION_TIME_HEADER]: '99999999999999' };
    prepareRequestHeaders(headers, '10.0.0.1', 'http');
    assert.equal(headers[REPLICATION_HEADER], undefined);
    assert.equal(headers[REPLICATION_TIME_HEADER], undefined);
    assert.equal(replicationMark(headers), undefined);
  });

  it('follows Link pagination', () => {
    assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"'), '/v2/_catalog?last=b&n=2');
    assert.equal(nextLink(undefined), undefined);
  });
});
