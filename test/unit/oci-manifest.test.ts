import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../../src/oci/digest.js';
import { InvalidManifestError, manifestReferences, parseManifest, readStoredManifest, referrerDescriptor } from '../../src/oci/manifest.js';
import { baseMediaType } from '../../src/oci/media-types.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const d = (s: string) => digestOf('sha256', s).value;
const desc = (s: string, mediaType = 'application/octet-stream') => ({ mediaType, digest: d(s), size: s.length });
const image = (extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('cfg', 'application/vnd.oci.image.config.v1+json'), layers: [desc('l1'), desc('l2')], ...extra }));
const invalid = (e: unknown) => e instanceof InvalidManifestError;

describe('manifest parsing (a push)', () => {
  it('lists the blobs an image manifest needs and types it by its config', () => {
    const facts = parseManifest(image(), OCI_MANIFEST);
    assert.equal(facts.kind, 'image');
    assert.deepEqual(facts.blobs.map((b) => b.value), [d('cfg'), d('l1'), d('l2')]);
    assert.equal(facts.artifactType, 'application/vnd.oci.image.config.v1+json');
  });
  it('does not require foreign layers (with urls) to be pushed', () => {
    const foreign = { ...desc('win'), mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: ['https://example.com/layer'] };
    const facts = parseManifest(image({ layers: [desc('l1'), foreign] }), OCI_MANIFEST);
    assert.deepEqual(facts.blobs.map((b) => b.value), [d('cfg'), d('l1')]);
  });
  it('prefers artifactType and reads subject and annotations', () => {
    const facts = parseManifest(image({ artifactType: 'application/x.sig', subject: desc('s', OCI_MANIFEST), annotations: { a: 'b' } }), `${OCI_MANIFEST}; charset=utf-8`);
    assert.equal(facts.artifactType, 'application/x.sig');
    assert.equal(facts.subject?.value, d('s'));
    assert.deepEqual(referrerDescriptor(facts, digestOf('sha256', 'm'), 10), { mediaType: OCI_MANIFEST, digest: d('m'), size: 10, artifactType: 'application/x.sig', annotations: { a: 'b' } });
  });
  it('lists the children of an index', () => {
    const facts = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [desc('m1', OCI_MANIFEST)] })), OCI_INDEX);
    assert.equal(facts.kind, 'index');
    assert.deepEqual(facts.children.map((c) => c.value), [d('m1')]);
  });
  it('takes the media type from the body when Content-Type is missing', () => {
    assert.equal(parseManifest(image(), undefined).mediaType, OCI_MANIFEST);
  });
  it('refuses malformed manifests with InvalidManifestError', () => {
    const bad: [Buffer, string | undefined][] = [
      [Buffer.from('{'), OCI_MANIFEST],
      [Buffer.from('"str"'), OCI_MANIFEST],
      [image(), OCI_INDEX],
      [image(), 'application/json'],
      [Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc('c') })), undefined],
      [image({ schemaVersion: 3 }), OCI_MANIFEST],
      [image({ config: { digest: 'sha256:1', size: 1, mediaType: 'x' } }), OCI_MANIFEST],
      [image({ config: { digest: d('c'), size: -1, mediaType: 'x' } }), OCI_MANIFEST],
      [image({ layers: [{ digest: d('c'), size: 1 }] }), OCI_MANIFEST],
      [image({ annotations: { a: 1 } }), OCI_MANIFEST],
      [image({ artifactType: 7 }), OCI_MANIFEST],
      [Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX })), OCI_INDEX],
      [Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [] })), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ];
    for (const [bytes, type] of bad) assert.throws(() => parseManifest(bytes, type), invalid, `${type} ${bytes.toString().slice(0, 60)}`);
  });
  it('strips media type parameters', () => assert.equal(baseMediaType('Application/JSON; charset=utf-8'), 'application/json'));
});

describe('stored manifest reading (replication copies, garbage collection)', () => {
  const index = (manifests: unknown[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));

  it('finds the same references as the push did, each once, blobs before child manifests', () => {
    const bytes = image({ layers: [desc('l1'), desc('cfg', 'application/vnd.oci.image.config.v1+json'), desc('l1')] });
    const stored = readStoredManifest(bytes, OCI_MANIFEST);
    assert.deepEqual(stored, parseManifest(bytes, OCI_MANIFEST));
    assert.deepEqual(manifestReferences(stored).map((r) => r.value), [d('cfg'), d('l1')]);
    assert.deepEqual(manifestReferences(readStoredManifest(index([desc('m1', OCI_MANIFEST)]))).map((r) => r.value), [d('m1')]);
  });
  it('leaves foreign layers out, as the push did not need them', () => {
    const foreign = { ...desc('win'), urls: ['https://example.com/layer'] };
    assert.deepEqual(readStoredManifest(image({ layers: [foreign, desc('l1')] })).blobs.map((b) => b.value), [d('cfg'), d('l1')]);
  });
  it('skips what is malformed instead of throwing', () => {
    assert.deepEqual(manifestReferences(readStoredManifest(Buffer.from('not json'))), []);
    assert.deepEqual(manifestReferences(readStoredManifest(index([desc('m1', OCI_MANIFEST), { nodigest: true }, 7]))).map((r) => r.value), [d('m1')]);
    assert.deepEqual(readStoredManifest(image({ layers: 'x', annotations: 3 })).blobs.map((b) => b.value), [d('cfg')]);
  });
  it('reads a manifest of no known media type as both kinds (collection keeps what it may need)', () => {
    const odd = Buffer.from(JSON.stringify({ schemaVersion: 2, config: desc('c'), layers: [desc('l')], manifests: [desc('m', OCI_MANIFEST)] }));
    assert.deepEqual(manifestReferences(readStoredManifest(odd)).map((r) => r.value), [d('c'), d('l'), d('m')]);
  });
});
