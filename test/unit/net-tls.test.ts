import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parseCliArgs } from '../../src/cli/args.js';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, validateConfigObject } from '../../src/config/load.js';
import { loadListenerCertificates, pickCertificate } from '../../src/net/listener-tls.js';
import { loadUpstreamTls } from '../../src/net/upstream-tls.js';
import { createTestCa, type TestCa } from '../helpers/tls-certs.js';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('TLS configuration', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });

  it('picks the certificate by SNI from its own names, wildcards included, else the default', () => {
    const fallback = ca.issue('default', ['IP:127.0.0.1']);
    const a = ca.issue('a', ['DNS:a.example', 'DNS:a2.example']);
    const wild = ca.issue('wild', ['DNS:*.b.example']);
    const certs = loadListenerCertificates({ ...fallback, certificates: [a, wild], minVersion: 'TLSv1.2' });
    const cn = (name: string) => pickCertificate(certs, name).x509.subject;
    assert.equal(cn('a2.example'), 'CN=a');
    assert.equal(cn('x.b.example'), 'CN=wild');
    assert.equal(cn('x.y.b.example'), 'CN=default', 'a wildcard covers one label only');
    assert.equal(cn('other.example'), 'CN=default');
    // Without cert/key the first of `certificates` is the default.
    assert.equal(pickCertificate(loadListenerCertificates({ certificates: [a, wild], minVersion: 'TLSv1.2' }), 'other').x509.subject, 'CN=a');
  });

  it('refuses half a certificate, none, unreadable files and a key of another certificate, naming the path', () => {
    const one = ca.issue('one', ['DNS:one.example']);
    const two = ca.issue('two', ['DNS:two.example']);
    const base = { mode: 'active-standby', backends: [{ url: 'http://127.0.0.1:1' }] };
    assert.deepEqual(problemsOf(() => loadConfig({ overrides: { ...parseCliArgs(['--tls-cert', one.cert]).overrides, ...base } })), [
      'tls: give both cert and key (--tls-cert and --tls-key), or neither',
    ]);
    assert.deepEqual(problemsOf(() => validateConfigObject({ ...base, tls: {} })), ['tls: no certificate: give cert and key, or certificates']);
    assert.deepEqual(problemsOf(() => validateConfigObject({ ...base, tls: { cert: '/nope.crt', key: one.key } })), ['tls.cert: cannot read /nope.crt (ENOENT)']);
    assert.match(problemsOf(() => validateConfigObject({ ...base, tls: { certificates: [{ cert: one.cert, key: two.key }] } }))[0], /^tls\.certificates\[0\]: unusable certificate or key/);
    assert.deepEqual(problemsOf(() => validateConfigObject({ ...base, tls: { ...one, minVersion: 'TLSv1.1' } })), ['tls.minVersion: must be one of TLSv1.2, TLSv1.3']);
    assert.deepEqual(problemsOf(() => validateConfigObject({ ...base, backends: [{ url: 'https://127.0.0.1:1', tls: { ca: '/nope-ca.crt' } }] })), [
      'backends[0].tls.ca: cannot read /nope-ca.crt (ENOENT)',
    ]);
    assert.deepEqual(problemsOf(() => validateConfigObject({ mode: 'registry', registry: { storage: '/tmp' }, replication: { peers: [{ url: 'https://127.0.0.1:1', tls: { cert: one.cert } }] } })), [
      'replication.peers[0].tls: give both cert and key, or neither',
    ]);
  });

  it('backend TLS: verify on by default, SNI is the URL host name and never an IP', () => {
    assert.equal(loadUpstreamTls('http://a.example', { verify: false }, 'backends[0]'), undefined, 'plain http ignores tls');
    assert.deepEqual(loadUpstreamTls('https://reg.example:5443/prefix', undefined, 'backends[0]'), { servername: 'reg.example', rejectUnauthorized: true });
    assert.deepEqual(loadUpstreamTls('https://127.0.0.1:5443', { verify: true }, 'backends[0]'), { servername: undefined, rejectUnauthorized: true });
    assert.deepEqual(loadUpstreamTls('https://[::1]:5443', { servername: 'inside.example', verify: false }, 'backends[0]'), { servername: 'inside.example', rejectUnauthorized: false });
  });
});
