import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRepositoryName } from '../../src/oci/grammar.js';
import { classifyRequest, repositoryOf } from '../../src/proxy/routing/classify-request.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('classifyRequest', () => {
  it('recognises every endpoint of a simple repository', () => {
    assert.deepEqual(classifyRequest('/v2/'), { kind: 'base' });
    assert.deepEqual(classifyRequest('/v2'), { kind: 'base' });
    assert.deepEqual(classifyRequest('/v2/_catalog?n=10'), { kind: 'catalog' });
    assert.deepEqual(classifyRequest(`/v2/alpine/blobs/${D}`), { kind: 'blob', name: 'alpine', digest: D });
    assert.deepEqual(classifyRequest('/v2/alpine/manifests/3.19'), { kind: 'manifest', name: 'alpine', reference: '3.19' });
    assert.deepEqual(classifyRequest(`/v2/alpine/manifests/${D}`), { kind: 'manifest', name: 'alpine', reference: D, digest: D });
    assert.deepEqual(classifyRequest('/v2/alpine/tags/list?n=5&last=b'), { kind: 'tags', name: 'alpine' });
    assert.deepEqual(classifyRequest(`/v2/alpine/referrers/${D}?artifactType=x`), { kind: 'referrers', name: 'alpine', digest: D });
    assert.deepEqual(classifyRequest('/v2/alpine/blobs/uploads/'), { kind: 'upload-start', name: 'alpine' });
    assert.deepEqual(classifyRequest(`/v2/alpine/blobs/uploads/?digest=${D}`), { kind: 'upload-start', name: 'alpine' });
    assert.deepEqual(classifyRequest('/v2/alpine/blobs/uploads'), { kind: 'upload-start', name: 'alpine' });
    assert.deepEqual(classifyRequest('/v2/alpine/blobs/uploads/0b1c-2d_3.e=?_state=abc%3D'), {
      kind: 'upload-session',
      name: 'alpine',
      uploadId: '0b1c-2d_3.e=',
    });
  });

  it('keeps slashes in names and reads the endpoint from the right', () => {
    assert.deepEqual(classifyRequest('/v2/a/b/c/manifests/latest'), { kind: 'manifest', name: 'a/b/c', reference: 'latest' });
    // A repository whose name itself ends in blobs/uploads/x.
    assert.deepEqual(classifyRequest('/v2/a/b/c/blobs/uploads/x/manifests/v1'), { kind: 'manifest', name: 'a/b/c/blobs/uploads/x', reference: 'v1' });
    assert.deepEqual(classifyRequest('/v2/a/b/c/blobs/uploads/x/blobs/uploads/'), { kind: 'upload-start', name: 'a/b/c/blobs/uploads/x' });
    assert.deepEqual(classifyRequest('/v2/a/b/c/blobs/uploads/x'), { kind: 'upload-session', name: 'a/b/c', uploadId: 'x' });
    assert.deepEqual(classifyRequest(`/v2/a/blobs/uploads/blobs/${D}`), { kind: 'blob', name: 'a/blobs/uploads', digest: D });
    assert.deepEqual(classifyRequest('/v2/blobs/blobs/uploads/'), { kind: 'upload-start', name: 'blobs' });
    assert.deepEqual(classifyRequest(`/v2/blobs/blobs/blobs/${D}`), { kind: 'blob', name: 'blobs/blobs', digest: D });
    assert.deepEqual(classifyRequest('/v2/blobs/blobs/manifests/x'), { kind: 'manifest', name: 'blobs/blobs', reference: 'x' });
    assert.deepEqual(classifyRequest('/v2/tags/tags/list'), { kind: 'tags', name: 'tags' });
    assert.deepEqual(classifyRequest('/v2/manifests/manifests/manifests'), { kind: 'manifest', name: 'manifests', reference: 'manifests' });
  });

  it('does not invent a repository for malformed registry paths', () => {
    assert.deepEqual(classifyRequest('/v2/Upper/manifests/latest'), { kind: 'api' });
    assert.deepEqual(classifyRequest('/v2/manifests/latest'), { kind: 'api' }); // no name left of the endpoint
    assert.deepEqual(classifyRequest('/v2/a/blobs/not-a-digest'), { kind: 'api' });
    assert.deepEqual(classifyRequest('/v2/a/manifests/-bad'), { kind: 'api' });
    assert.deepEqual(classifyRequest('/v2/a//b/tags/list'), { kind: 'api' });
    assert.deepEqual(classifyRequest('/v2/a/%zz/tags/list'), { kind: 'api' });
    assert.deepEqual(classifyRequest(`/v2/${'a'.repeat(256)}/tags/list`), { kind: 'api' });
  });

  it('treats everything outside /v2 as plain traffic', () => {
    assert.deepEqual(classifyRequest('/'), { kind: 'plain' });
    assert.deepEqual(classifyRequest('/ui/index.html?x=/v2/'), { kind: 'plain' });
    assert.deepEqual(classifyRequest('/v20/x'), { kind: 'plain' });
  });

  it('names the repository of repository requests only', () => {
    assert.equal(repositoryOf(classifyRequest('/v2/a/b/tags/list')), 'a/b');
    assert.equal(repositoryOf(classifyRequest('/v2/_catalog')), undefined);
    assert.equal(repositoryOf(classifyRequest('/index.html')), undefined);
  });

  it('follows the spec name grammar', () => {
    for (const ok of ['a', 'a/b', 'a__b', 'a-----b', 'a.b_c', 'x1/y2/z3']) assert.ok(isRepositoryName(ok), ok);
    for (const bad of ['', 'A', 'a/', '/a', 'a..b', 'a___b', '-a', 'a-', 'a//b', 'a b']) assert.ok(!isRepositoryName(bad), bad);
  });
});
