import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlightList, type InFlightNode } from '../../src/proxy/in-flight-list.js';

interface Item extends InFlightNode {
  id: string;
}

const item = (id: string): Item => ({ id, prevInFlight: undefined, nextInFlight: undefined });
const ids = (list: InFlightList<Item>): string[] => list.toArray().map((n) => n.id);

describe('InFlightList', () => {
  it('lists what was added, newest first, and forgets what was removed', () => {
    const list = new InFlightList<Item>();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    list.add(a);
    list.add(b);
    list.add(c);
    assert.deepEqual(ids(list), ['c', 'b', 'a']);
    list.remove(b);
    assert.deepEqual(ids(list), ['c', 'a']);
    list.remove(c);
    assert.deepEqual(ids(list), ['a']);
    list.remove(a);
    assert.deepEqual(ids(list), []);
  });

  it('leaves a removed node with no links, so it holds no live node', () => {
    const list = new InFlightList<Item>();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    for (const n of [a, b, c]) list.add(n);
    list.remove(b);
    assert.equal(b.prevInFlight, undefined);
    assert.equal(b.nextInFlight, undefined);
  });

  it('ignores a second remove, and a remove of a node never added', () => {
    const list = new InFlightList<Item>();
    const [a, b, stranger] = [item('a'), item('b'), item('x')];
    list.add(a);
    list.add(b);
    list.remove(a);
    list.remove(a);
    list.remove(stranger);
    assert.deepEqual(ids(list), ['b']);
  });

  it('returns a copy that stays whole while nodes are removed during the walk', () => {
    const list = new InFlightList<Item>();
    const nodes = ['a', 'b', 'c', 'd'].map(item);
    for (const n of nodes) list.add(n);
    const seen: string[] = [];
    for (const n of list.toArray()) {
      seen.push(n.id);
      list.remove(n);
    }
    assert.deepEqual(seen, ['d', 'c', 'b', 'a']);
    assert.deepEqual(ids(list), []);
  });
});
