import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseApiPath } from '../../src/oci/api-path.js';

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
});
