import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseApiPath, type ApiPath } from '../../src/oci/api-path.js';

describe('OCI API path parsing', () => {
  const cases: [string, unknown][] = [
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/a/b/c/tags/list', { kind: 'tags', name: 'a/b/c' }],
    ['/v2/lib/app/manifests/v1.0', { kind: 'manifest', name: 'lib/app', reference: 'v1.0' }],
    ['/v2/x/blobs/sha256:abc', { kind: 'blob', name: 'x', digest: 'sha256:abc' }],
    ['/v2/x/blobs/sha256%3Aabc', { kind: 'blob', name: 'x', digest: 'sha256:abc' }],
    ['/v2/x/blobs/uploads/', { kind: 'uploads', name: 'x' }],
    ['/v2/x/blobs/uploads', { kind: 'uploads', name: 'x' }],
    ['/v2/a/b/c/blobs/uploads/123', { kind: 'upload', name: 'a/b/c', id: '123' }],
    // A repository may itself contain `blobs` or `manifests` components: read from the right.
    ['/v2/blobs/blobs/blobs/sha256:1', { kind: 'blob', name: 'blobs/blobs', digest: 'sha256:1' }],
    ['/v2/manifests/manifests/x', { kind: 'manifest', name: 'manifests', reference: 'x' }],
    ['/v2/r/referrers/sha256:1', { kind: 'referrers', name: 'r', digest: 'sha256:1' }],
    ['/v2/../x/tags/list', { kind: 'tags', name: '../x' }],
    ['/v2/x/other/thing', { kind: 'notFound' }],
    ['/v2x/a/tags/list', { kind: 'notFound' }],
    ['/metrics', { kind: 'notFound' }],
    ['/v2/x/blobs/%E0%A4%A', { kind: 'notFound' }],
  ];
  for (const [path, expected] of cases) {
    it(`maps ${path}`, () => assert.deepEqual(parseApiPath(path), expected));
  }

  it('reads any path as the segment-by-segment reading does (random paths)', () => {
    const words = ['', 'a', 'blobs', 'uploads', 'manifests', 'tags', 'list', 'referrers', 'sha256:1', '%41', '%E0%A4%A', '_catalog', 'v2'];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const segments = Array.from({ length: 1 + next(6) }, () => words[next(words.length)]);
      const path = `/v2/${segments.join('/')}`;
      assert.deepEqual(parseApiPath(path), bySegments(path), path);
    }
  });
});

/** The reading by split segments that parseApiPath does by index: the reference it must agree with. */
function bySegments(path: string): ApiPath {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  if (path === '/v2/_replication/state') return { kind: 'replicationState' };
  const segs = path.slice(4).split('/');
  const n = segs.length;
  if (n < 2) return { kind: 'notFound' };
  let last: string;
  try {
    last = decodeURIComponent(segs[n - 1]);
  } catch {
    return { kind: 'notFound' };
  }
  const prev = segs[n - 2];
  const nameOf = (drop: number) => segs.slice(0, n - drop).join('/');
  if (n >= 3 && segs[n - 3] === 'blobs' && prev === 'uploads') return last === '' ? { kind: 'uploads', name: nameOf(3) } : { kind: 'upload', name: nameOf(3), id: last };
  if (prev === 'blobs' && last === 'uploads') return { kind: 'uploads', name: nameOf(2) };
  if (prev === 'tags' && last === 'list') return { kind: 'tags', name: nameOf(2) };
  if (prev === 'manifests') return { kind: 'manifest', name: nameOf(2), reference: last };
  if (prev === 'blobs') return { kind: 'blob', name: nameOf(2), digest: last };
  if (prev === 'referrers') return { kind: 'referrers', name: nameOf(2), digest: last };
  return { kind: 'notFound' };
}
