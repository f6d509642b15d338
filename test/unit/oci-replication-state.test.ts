import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReplicationState } from '../../src/oci/replication-state.js';

describe('parseReplicationState', () => {
  const peer = { peer: 'http://127.0.0.1:5001', up: false, queueDepth: 3, lagSeconds: 4.5 };

  it('reads a replica\'s epoch and per-peer figures, dropping unknown fields', () => {
    assert.deepEqual(parseReplicationState(JSON.stringify({ epoch: 'e1', peers: [{ ...peer, extra: 1 }], more: true })), { epoch: 'e1', peers: [peer] });
    assert.deepEqual(parseReplicationState('{"epoch":"e1","peers":[]}'), { epoch: 'e1', peers: [] });
  });

  it('refuses what is not one: not JSON, an older replica without peers, a malformed or negative figure', () => {
    for (const text of ['', 'not json', 'null', '[]', '{"epoch":"e1"}', '{"peers":[]}']) assert.equal(parseReplicationState(text), undefined, text);
    for (const bad of [{ ...peer, queueDepth: -1 }, { ...peer, lagSeconds: 'x' }, { ...peer, up: 1 }, { ...peer, peer: 5 }, null]) {
      assert.equal(parseReplicationState(JSON.stringify({ epoch: 'e1', peers: [bad] })), undefined, JSON.stringify(bad));
    }
  });
});
