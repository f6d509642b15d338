// The built-in registry's manifest, tag, catalog and referrers endpoints over HTTP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, pushBlob, pushImage, startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.js';
import { storagesUnderTest } from '../helpers/storage-under-test.js';

const sha256 = (d: Buffer | string) => `sha256:${createHash('sha256').update(d).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MAX_MANIFEST = 4096;

// Once per storage driver: the API must behave alike on a directory and on a bucket. What no
// driver can change (parsing, validation, answers for what was never stored) runs on the first only.
for (const storage of storagesUnderTest()) describe(`registry manifests, tags, catalog and referrers (${storage.name})`, { skip: storage.skip }, () => {
  let reg: RegistryProcess;
  let base: string;
  before(async () => {
    reg = await startRegistryProcess({ ...(await storage.options()), registry: { deleteEnabled: true, maxManifestBytes: MAX_MANIFEST } });
    base = reg.url;
  });
  after(async () => {
    await reg?.stop();
  });

  const put = (repo: string, ref: string, body: Buffer | string, contentType: string) =>
    call(base, 'PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'content-type': contentType } });

  it('stores a manifest by tag byte for byte and serves it by tag and digest with its media type', async () => {
    const { manifest, digest } = await pushImage(base, 'img', 'v1');
    assert.equal(digest, sha256(manifest));
    const byTag = await call(base, 'GET', '/v2/img/manifests/v1', { headers: { accept: OCI_MANIFEST } });
    assert.equal(byTag.status, 200);
    assert.deepEqual(byTag.body, manifest);
    assert.equal(byTag.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(byTag.headers.get('docker-content-digest'), digest);
    const head = await call(base, 'HEAD', `/v2/img/manifests/${digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(manifest.length));
    assert.equal(head.headers.get('docker-content-digest'), digest);
  });

  storage.itOnce('answers PUT with 201, Location and Docker-Content-Digest, by tag and by digest', async () => {
    const configDigest = await pushBlob(base, 'put', '{}');
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 }, layers: [] }, null, 2);
    const digest = sha256(body);
    const byDigest = await put('put', digest, body, OCI_MANIFEST);
    assert.equal(byDigest.status, 201);
    assert.equal(byDigest.headers.get('location'), `/v2/put/manifests/${digest}`);
    assert.equal(byDigest.headers.get('docker-content-digest'), digest);
    const wrong = await put('put', sha256('other'), body, OCI_MANIFEST);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.code(), 'DIGEST_INVALID');
  });

  it('creates the tags of ?tag= on a push by digest (sha512 too), one OCI-Tag header each', async () => {
    const configDigest = await pushBlob(base, 'qtag', '{}');
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 }, layers: [] });
    const digest = `sha512:${createHash('sha512').update(body).digest('hex')}`;
    const res = await put('qtag', `${digest}?tag=a&tag=b`, body, OCI_MANIFEST);
    assert.equal(res.status, 201, res.body.toString());
    assert.equal(res.headers.get('docker-content-digest'), digest);
    // fetch joins repeated headers with ", ": two OCI-Tag lines.
    assert.equal(res.headers.get('oci-tag'), 'a, b');
    for (const tag of ['a', 'b']) {
      const head = await call(base, 'HEAD', `/v2/qtag/manifests/${tag}`);
      assert.equal(head.headers.get('docker-content-digest'), digest, `tag ${tag} names the sha512 digest`);
    }
    const badTag = await put('qtag', `${digest}?tag=-bad`, body, OCI_MANIFEST);
    assert.equal(badTag.status, 400);
    assert.equal(badTag.code(), 'MANIFEST_INVALID');
    const onTagPush = await put('qtag', 'c?tag=d', body, OCI_MANIFEST);
    assert.equal(onTagPush.status, 400);
    assert.equal((await call(base, 'HEAD', '/v2/qtag/manifests/c')).status, 404, 'a refused push stores nothing');
  });

  storage.itOnce('keeps Docker schema 2 manifests and manifest lists with their media types', async () => {
    const configDigest = await pushBlob(base, 'docker', '{"os":"linux"}');
    const layer = await pushBlob(base, 'docker', 'layer');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: configDigest, size: 14 },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: 5 }],
    });
    assert.equal((await put('docker', 'm', manifest, DOCKER_MANIFEST)).status, 201);
    const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } }] });
    assert.equal((await put('docker', 'list', list, DOCKER_LIST)).status, 201);
    assert.equal((await call(base, 'GET', '/v2/docker/manifests/m')).headers.get('content-type'), DOCKER_MANIFEST);
    const got = await call(base, 'GET', '/v2/docker/manifests/list');
    assert.equal(got.headers.get('content-type'), DOCKER_LIST);
    assert.equal(got.body.toString(), list);
  });

  storage.itOnce('answers MANIFEST_BLOB_UNKNOWN when the config or a layer was never pushed', async () => {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('missing'), size: 7 }, layers: [] });
    const res = await put('blobless', 'v1', body, OCI_MANIFEST);
    assert.equal(res.status, 404);
    assert.equal(res.code(), 'MANIFEST_BLOB_UNKNOWN');
  });

  storage.itOnce('refuses manifests over maxManifestBytes with 413 SIZE_INVALID', async () => {
    const big = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { pad: 'x'.repeat(MAX_MANIFEST) } });
    const res = await put('big', 'v1', big, OCI_INDEX);
    assert.equal(res.status, 413);
    assert.equal(res.code(), 'SIZE_INVALID');
  });

  storage.itOnce('answers MANIFEST_INVALID for bad JSON, wrong or mismatched content types and schema 1', async () => {
    const configDigest = await pushBlob(base, 'invalid', '{}');
    const valid = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 2 }, layers: [] };
    const cases: [string, string][] = [
      ['{not json', OCI_MANIFEST],
      [JSON.stringify(valid), 'text/plain'],
      [JSON.stringify(valid), OCI_INDEX],
      [JSON.stringify({ ...valid, schemaVersion: 1 }), OCI_MANIFEST],
      [JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      [JSON.stringify({ ...valid, config: { digest: 'sha256:nothex', size: 1, mediaType: 'a/b' } }), OCI_MANIFEST],
      [JSON.stringify({ ...valid, layers: 'no' }), OCI_MANIFEST],
      ['[1,2]', OCI_MANIFEST],
    ];
    for (const [body, type] of cases) {
      const res = await put('invalid', 'v1', body, type);
      assert.equal(res.status, 400, `${type} ${body.slice(0, 40)}`);
      assert.equal(res.code(), 'MANIFEST_INVALID', `${type} ${body.slice(0, 40)}`);
    }
  });

  storage.itOnce('answers MANIFEST_UNKNOWN for unknown tags and digests, and 400 for invalid references', async () => {
    await pushImage(base, 'known', 'v1');
    for (const ref of ['nope', sha256('nope')]) {
      const res = await call(base, 'GET', `/v2/known/manifests/${ref}`);
      assert.equal(res.status, 404);
      assert.equal(res.code(), 'MANIFEST_UNKNOWN');
    }
    assert.equal((await call(base, 'GET', '/v2/known/manifests/bad!tag')).status, 400);
    assert.equal((await call(base, 'GET', '/v2/known/manifests/sha256:abc')).code(), 'DIGEST_INVALID');
  });

  storage.itOnce('answers 503 UNAVAILABLE for a corrupt revision link, and stays up', async () => {
    // Caches off: the manifest is read from the file that is corrupted below.
    const own = await startRegistryProcess({ registry: { cacheTtlMs: 0 } });
    try {
      const { digest } = await pushImage(own.url, 'broken', 'v1');
      const [algorithm, hex] = digest.split(':');
      writeFileSync(join(own.storage, 'repositories/broken/_manifests/revisions', algorithm, hex, 'link'), '{not json');
      const res = await call(own.url, 'GET', `/v2/broken/manifests/${digest}`);
      assert.equal(res.status, 503);
      assert.equal(res.code(), 'UNAVAILABLE');
      assert.equal((await call(own.url, 'GET', '/v2/')).status, 200);
    } finally {
      await own.stop();
    }
  });

  it('lists tags in order with n/last pagination and a Link header', async () => {
    for (const tag of ['t3', 't1', 't5', 't2', 't4']) await pushImage(base, 'paged', tag);
    const all = await call(base, 'GET', '/v2/paged/tags/list');
    assert.deepEqual(all.json(), { name: 'paged', tags: ['t1', 't2', 't3', 't4', 't5'] });
    const first = await call(base, 'GET', '/v2/paged/tags/list?n=2');
    assert.deepEqual(first.json().tags, ['t1', 't2']);
    assert.equal(first.headers.get('link'), '</v2/paged/tags/list?n=2&last=t2>; rel="next"');
    const second = await call(base, 'GET', '/v2/paged/tags/list?n=2&last=t2');
    assert.deepEqual(second.json().tags, ['t3', 't4']);
    const lastPage = await call(base, 'GET', '/v2/paged/tags/list?n=2&last=t4');
    assert.deepEqual(lastPage.json().tags, ['t5']);
    assert.equal(lastPage.headers.get('link'), null);
    assert.deepEqual((await call(base, 'GET', '/v2/paged/tags/list?n=0')).json().tags, []);
    assert.equal((await call(base, 'GET', '/v2/paged/tags/list?n=-1')).status, 400);
    const unknown = await call(base, 'GET', '/v2/no/such/repo/tags/list');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code(), 'NAME_UNKNOWN');
  });

  it('lists repositories in the catalog with pagination', async () => {
    await pushImage(base, 'cat/a', 'v1');
    await pushImage(base, 'cat/b', 'v1');
    const all = (await call(base, 'GET', '/v2/_catalog')).json().repositories as string[];
    assert.ok(all.includes('cat/a') && all.includes('cat/b'));
    assert.deepEqual(all, [...all].sort());
    const page = await call(base, 'GET', '/v2/_catalog?n=1&last=cat/a');
    assert.deepEqual(page.json().repositories, ['cat/b']);
    assert.match(page.headers.get('link') ?? '', /^<\/v2\/_catalog\?n=1&last=cat%2Fb>; rel="next"$/);
  });

  it('returns OCI-Subject on push and lists referrers as an index, filtered by artifactType', async () => {
    const subject = await pushImage(base, 'refs', 'subject');
    const subjectDesc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
    const sig = await pushImage(base, 'refs', 'sig', { artifactType: 'application/vnd.example.sig', subject: subjectDesc, annotations: { k: 'sig' } });
    const sbom = await pushImage(base, 'refs', 'sbom', { artifactType: 'application/vnd.example.sbom', subject: subjectDesc, annotations: { k: 'sbom' } });
    const pushed = await put('refs', 'another', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject: subjectDesc }), OCI_INDEX);
    assert.equal(pushed.headers.get('oci-subject'), subject.digest);
    const all = await call(base, 'GET', `/v2/refs/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const index = all.json();
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX);
    assert.equal(index.manifests.length, 3);
    const sigEntry = index.manifests.find((m: { digest: string }) => m.digest === sig.digest);
    assert.deepEqual(sigEntry, { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.manifest.length, artifactType: 'application/vnd.example.sig', annotations: { k: 'sig' } });
    const filtered = await call(base, 'GET', `/v2/refs/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(filtered.json().manifests.map((m: { digest: string }) => m.digest), [sbom.digest]);
    const none = await call(base, 'GET', `/v2/refs/referrers/${sha256('no subject')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json().manifests, []);
    assert.equal((await call(base, 'GET', '/v2/refs/referrers/sha256:zz')).code(), 'DIGEST_INVALID');
  });

  it('deletes a tag (202) without deleting the manifest, and a manifest by digest with its tags and referrer entry', async () => {
    const subject = await pushImage(base, 'del', 'keep');
    const img = await pushImage(base, 'del', 'a', { subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length } });
    await put('del', 'b', img.manifest, OCI_MANIFEST);
    assert.equal((await call(base, 'DELETE', '/v2/del/manifests/a')).status, 202);
    assert.equal((await call(base, 'GET', '/v2/del/manifests/a')).status, 404);
    assert.equal((await call(base, 'GET', `/v2/del/manifests/${img.digest}`)).status, 200);
    assert.equal((await call(base, 'DELETE', '/v2/del/manifests/a')).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await call(base, 'DELETE', `/v2/del/manifests/${img.digest}`)).status, 202);
    assert.equal((await call(base, 'GET', `/v2/del/manifests/${img.digest}`)).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await call(base, 'GET', '/v2/del/manifests/b')).status, 404);
    assert.deepEqual((await call(base, 'GET', '/v2/del/tags/list')).json().tags, ['keep']);
    assert.deepEqual((await call(base, 'GET', `/v2/del/referrers/${subject.digest}`)).json().manifests, []);
  });
});
