import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDigest, isRepositoryName, isTag } from '../../src/oci/grammar.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { isValidUploadId } from '../../src/registry/storage/names.js';
import { referrerEntryDigest, storagePath } from '../../src/registry/storage/paths.js';

describe('repository names, tags and digests', () => {
  it('accepts names of the spec grammar', () => {
    for (const name of ['a', 'library/ubuntu', 'a.b/c_d/e__f/g-h/i--j', 'x0/y1/z2']) assert.ok(isRepositoryName(name), name);
  });
  it('refuses names that could escape the storage directory or break the grammar', () => {
    for (const name of ['', '..', '../x', 'a/../b', '/a', 'a/', 'a//b', 'A', 'a_', '_a', 'a/_layers', '.a', 'a..b', 'a\\b', 'a%2fb', 'a'.repeat(256)]) {
      assert.equal(isRepositoryName(name), false, name);
    }
  });
  it('checks tags', () => {
    assert.ok(isTag('v1.0_rc-1'));
    assert.ok(isTag('_x'));
    for (const tag of ['', '.x', '-x', 'a/b', 'a:b', 'x'.repeat(129), '..']) assert.equal(isTag(tag), false, tag);
  });
  it('parses sha256 and sha512 digests and refuses the rest', () => {
    const d256 = digestOf('sha256', 'x');
    const d512 = digestOf('sha512', 'x');
    assert.deepEqual(parseDigest(d256.value), d256);
    assert.deepEqual(parseDigest(d512.value), d512);
    for (const bad of ['sha256:', 'sha256:abc', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'sha256:../../etc']) {
      assert.equal(parseDigest(bad), undefined, bad);
    }
    assert.ok(isDigest(`md5:${'a'.repeat(32)}`));
    assert.equal(isDigest('not a digest'), false);
  });
  it('checks upload ids', () => {
    assert.ok(isValidUploadId('0f8fad5b-d9cb-469f-a165-70867728950e'));
    assert.equal(isValidUploadId('../x'), false);
  });
});

describe('storage paths', () => {
  const digest = digestOf('sha256', 'content');
  it('lays blobs out by algorithm and hex prefix', () => {
    assert.equal(storagePath({ kind: 'blobData', digest }), `blobs/sha256/${digest.hex.slice(0, 2)}/${digest.hex}/data`);
  });
  it('keeps repository metadata under _-prefixed directories', () => {
    assert.equal(storagePath({ kind: 'layerLink', repo: 'a/b', digest }), `repositories/a/b/_layers/sha256/${digest.hex}/link`);
    assert.equal(storagePath({ kind: 'revisionLink', repo: 'a', digest }), `repositories/a/_manifests/revisions/sha256/${digest.hex}/link`);
    assert.equal(storagePath({ kind: 'tagLink', repo: 'a', tag: 'v1' }), 'repositories/a/_manifests/tags/v1/current/link');
    assert.equal(storagePath({ kind: 'uploadState', repo: 'a', id: 'u' }), 'repositories/a/_uploads/u/state');
    assert.equal(storagePath({ kind: 'referrerEntry', repo: 'a', subject: digest, digest }), `repositories/a/_referrers/sha256/${digest.hex}/sha256-${digest.hex}`);
  });
  it('names each directory that is removed or listed whole as the parent of what it holds', () => {
    const parent = (path: string) => path.slice(0, path.lastIndexOf('/'));
    assert.equal(storagePath({ kind: 'blobDir', digest }), parent(storagePath({ kind: 'blobData', digest })));
    assert.equal(storagePath({ kind: 'layerDir', repo: 'a', digest }), parent(storagePath({ kind: 'layerLink', repo: 'a', digest })));
    assert.equal(storagePath({ kind: 'revisionDir', repo: 'a', digest }), parent(storagePath({ kind: 'revisionLink', repo: 'a', digest })));
    assert.equal(storagePath({ kind: 'uploadDir', repo: 'a', id: 'u' }), parent(storagePath({ kind: 'uploadState', repo: 'a', id: 'u' })));
    assert.equal(storagePath({ kind: 'uploadsDir', repo: 'a' }), parent(storagePath({ kind: 'uploadDir', repo: 'a', id: 'u' })));
    assert.equal(storagePath({ kind: 'layersDir', repo: 'a', algorithm: 'sha256' }), parent(storagePath({ kind: 'layerDir', repo: 'a', digest })));
    assert.equal(storagePath({ kind: 'revisionsDir', repo: 'a', algorithm: 'sha256' }), parent(storagePath({ kind: 'revisionDir', repo: 'a', digest })));
    assert.equal(storagePath({ kind: 'blobsListing', algorithm: 'sha256', prefix: digest.hex.slice(0, 2) }), parent(storagePath({ kind: 'blobDir', digest })));
    const entry = storagePath({ kind: 'referrerEntry', repo: 'a', subject: digest, digest });
    assert.equal(referrerEntryDigest(entry.slice(entry.lastIndexOf('/') + 1)), digest.value);
  });
});
