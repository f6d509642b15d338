import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from '../../src/errors/oci-codes.js';
import { nextLink, pageQuery, paginate } from '../../src/registry/api/pagination.js';

describe('n/last pagination', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  it('returns everything without n', () => assert.deepEqual(paginate(items, {}), { items }));
  it('returns n items and names the last one for the next page', () => assert.deepEqual(paginate(items, { n: 2 }), { items: ['a', 'b'], next: 'b' }));
  it('starts strictly after last', () => assert.deepEqual(paginate(items, { n: 2, last: 'b' }), { items: ['c', 'd'], next: 'd' }));
  it('has no next page at the end', () => assert.deepEqual(paginate(items, { n: 2, last: 'c' }), { items: ['d', 'e'] }));
  it('accepts a last that is not in the list', () => assert.deepEqual(paginate(items, { last: 'bb' }), { items: ['c', 'd', 'e'] }));
  it('returns nothing for n=0', () => assert.deepEqual(paginate(items, { n: 0 }), { items: [] }));
  it('reads n and last from the query and refuses a malformed n', () => {
    assert.deepEqual(pageQuery(new URLSearchParams('n=3&last=x')), { n: 3, last: 'x' });
    assert.deepEqual(pageQuery(new URLSearchParams('')), { n: undefined, last: undefined });
    for (const bad of ['n=-1', 'n=abc', 'n=1.5']) {
      assert.throws(() => pageQuery(new URLSearchParams(bad)), (e: unknown) => e instanceof OciError && e.status === 400);
    }
  });
  it('builds a Link header with an escaped last', () => {
    assert.equal(nextLink('/v2/_catalog', 2, 'a/b'), '</v2/_catalog?n=2&last=a%2Fb>; rel="next"');
  });
});
