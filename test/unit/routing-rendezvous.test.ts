import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur3, rendezvousOrder, rendezvousOwner, unitHash } from '../../src/proxy/routing/rendezvous.js';

const names = Array.from({ length: 3000 }, (_, i) => `team-${i % 7}/service-${i}`);
const three = [
  { name: 'alpha', weight: 1 },
  { name: 'bravo', weight: 1 },
  { name: 'charlie', weight: 1 },
];

function countOwners(nodes: typeof three): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of names) {
    const owner = rendezvousOwner(nodes, n)!.name;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

describe('rendezvous hashing', () => {
  it('spreads 3000 repositories over 3 backends within 15% of an even share', () => {
    const counts = countOwners(three);
    for (const node of three) {
      const count = counts.get(node.name) ?? 0;
      assert.ok(count >= 850 && count <= 1150, `${node.name} owns ${count}`);
    }
  });

  it('gives a weight-2 backend twice the share of a weight-1 backend', () => {
    const counts = countOwners([{ name: 'alpha', weight: 2 }, { name: 'bravo', weight: 1 }, { name: 'charlie', weight: 1 }]);
    const alpha = counts.get('alpha') ?? 0;
    assert.ok(alpha >= 1500 * 0.85 && alpha <= 1500 * 1.15, `alpha owns ${alpha}`);
  });

  it('moves only the failed backend’s repositories, and moves them back when it returns', () => {
    const before = new Map(names.map((n) => [n, rendezvousOwner(three, n)!.name]));
    const survivors = three.filter((n) => n.name !== 'bravo');
    let moved = 0;
    for (const n of names) {
      const after = rendezvousOwner(survivors, n)!.name;
      if (before.get(n) === 'bravo') {
        moved++;
        assert.notEqual(after, 'bravo');
      } else {
        assert.equal(after, before.get(n), `${n} stayed on its owner`);
      }
    }
    assert.ok(moved > 0);
    for (const n of names) assert.equal(rendezvousOwner(three, n)!.name, before.get(n));
  });

  it('orders backends so the next choice after the owner is the owner without it', () => {
    for (const n of names.slice(0, 200)) {
      const order = rendezvousOrder(three, n);
      assert.equal(order.length, 3);
      assert.equal(order[0].name, rendezvousOwner(three, n)!.name);
      assert.equal(rendezvousOwner(three.filter((x) => x !== order[0]), n)!.name, order[1].name);
    }
  });

  it('does not depend on the order backends are listed in', () => {
    const reversed = [...three].reverse();
    for (const n of names.slice(0, 200)) assert.equal(rendezvousOwner(reversed, n)!.name, rendezvousOwner(three, n)!.name);
  });

  it('uses MurmurHash3 x86_32 (published test vectors), so every process agrees', () => {
    assert.equal(murmur3('', 0), 0);
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('hello', 0), 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
    assert.equal(murmur3('ab', 0), murmur3('ab', 0));
    assert.notEqual(murmur3('abc', 0), murmur3('abd', 0));
  });

  it('hashes into the open unit interval, the same in every process', () => {
    const u = unitHash('alpha', 'library/ubuntu');
    assert.ok(u > 0 && u < 1);
    assert.equal(unitHash('alpha', 'library/ubuntu'), u);
    assert.notEqual(unitHash('alpha', 'library/ubuntu'), unitHash('bravo', 'library/ubuntu'));
    assert.equal(rendezvousOwner([], 'x'), undefined);
  });
});
