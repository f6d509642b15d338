import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { validateConfigObject } from '../../src/config/load.js';
import { configuredSecrets } from '../../src/proxy/routing/create-routing.js';

const backends = [
  { name: 'r1', url: 'http://127.0.0.1:5001' },
  { name: 'r2', url: 'http://127.0.0.1:5002' },
];

function problemsOf(routing: Record<string, unknown>): string[] {
  try {
    validateConfigObject({ mode: 'active-active', backends, routing });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('routing config', () => {
  it('defaults to read fallback on, no rules, no stickiness, no configured secret, strict upload affinity, no blob redirects', () => {
    const config = validateConfigObject({ mode: 'active-active', backends });
    assert.deepEqual(config.routing, {
      readFallback: true,
      routes: [],
      sticky: 'none',
      cookieName: 'ha_proxy_backend',
      previousSecrets: [],
      uploadAffinity: 'required',
      blobRedirect: { enabled: false, expiresMs: 60000 },
    });
  });

  it('accepts rules, a secret and cookie stickiness', () => {
    const routing = {
      secret: 'a-long-enough-secret',
      previousSecrets: ['the-secret-before-it'],
      readFallback: false,
      routes: [{ repositories: ['team-a/**', 'shared/*'], backends: ['r1'] }, { repositories: ['**'], backends: ['r2'] }],
      sticky: 'cookie',
      cookieName: 'SERVERID',
      uploadAffinity: 'preferred',
      blobRedirect: { enabled: false, expiresMs: 30000 },
    };
    assert.deepEqual(validateConfigObject({ mode: 'active-active', backends, routing }).routing, routing);
  });

  it('reports bad routing settings as path: reason', () => {
    assert.deepEqual(problemsOf({ routes: [{ repositories: ['**'], backends: ['r1', 'r3'] }] }), [
      'routing.routes[0].backends[1]: no backend is named "r3" (name it in backends[].name)',
    ]);
    assert.deepEqual(problemsOf({ routes: [{ repositories: ['Team/A'], backends: ['r1'] }] }), [
      'routing.routes[0].repositories[0]: must be a repository glob of a-z 0-9 . _ - / * ? (e.g. team-a/**)',
    ]);
    assert.deepEqual(problemsOf({ secret: 'short' }), ['routing.secret: must NOT have fewer than 16 characters']);
    assert.deepEqual(problemsOf({ secret: 'a-long-enough-secret', secretFile: '/x' }), [
      'routing.secretFile: set either routing.secret or routing.secretFile, not both',
    ]);
    assert.deepEqual(problemsOf({ secretFile: '/nonexistent/secret' }), ['routing.secretFile: cannot read /nonexistent/secret (ENOENT)']);
    const shortFile = join(mkdtempSync(join(tmpdir(), 'routing-secret-')), 'secret');
    writeFileSync(shortFile, 'short\nan-older-secret-long-enough\n');
    assert.deepEqual(problemsOf({ secretFile: shortFile }), ['routing.secretFile: the secret on its first line must have at least 16 characters']);
    const shortPrevious = join(mkdtempSync(join(tmpdir(), 'routing-secret-')), 'secret');
    writeFileSync(shortPrevious, 'the-current-secret-0123\nold\n');
    assert.deepEqual(problemsOf({ secretFile: shortPrevious }), [
      'routing.secretFile: every previous secret (the lines after the first) must have at least 16 characters',
    ]);
    assert.deepEqual(problemsOf({ previousSecrets: ['an-older-secret-long-enough'] }), [
      'routing.previousSecrets: previous secrets need a current one (routing.secret or routing.secretFile)',
    ]);
    assert.deepEqual(problemsOf({ secret: 'a-long-enough-secret', previousSecrets: ['old'] }), ['routing.previousSecrets[0]: must NOT have fewer than 16 characters']);
    assert.ok(problemsOf({ sticky: 'source' })[0].startsWith('routing.sticky: must be one of none, cookie'));
  });

  it('reads the current secret from the first line of secretFile, previous ones from the others', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'routing-secret-')), 'secret');
    writeFileSync(file, 'from-a-file-0123456789\n');
    const config = validateConfigObject({ mode: 'active-active', backends, routing: { secretFile: file } });
    assert.deepEqual(configuredSecrets(config.routing), ['from-a-file-0123456789']);
    writeFileSync(file, 'new-secret-0123456789\r\nold-secret-0123456789\n\n');
    const rotated = validateConfigObject({ mode: 'active-active', backends, routing: { secretFile: file, previousSecrets: ['older-secret-0123456789'] } });
    assert.deepEqual(configuredSecrets(rotated.routing), ['new-secret-0123456789', 'old-secret-0123456789', 'older-secret-0123456789']);
    assert.equal(configuredSecrets(validateConfigObject({ mode: 'active-active', backends }).routing), undefined);
  });

  describe('blobRedirect', () => {
    const SECRET = 'a secret of enough length';
    const withPublic = [{ ...backends[0], publicUrl: 'https://r1.example.com' }, backends[1]];
    const problems = (config: Record<string, unknown>): string[] => {
      try {
        validateConfigObject(config);
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
    };

    it('needs a shared secret on the proxy and on a registry, and a backend with a publicUrl', () => {
      const on = { blobRedirect: { enabled: true } };
      assert.deepEqual(problems({ mode: 'active-active', backends: withPublic, routing: on }), [
        'routing.blobRedirect.enabled: needs routing.secret (or routing.secretFile), the same on the proxy and the registries it redirects to',
      ]);
      assert.deepEqual(problems({ mode: 'active-active', backends, routing: { ...on, secret: SECRET } }), [
        'routing.blobRedirect.enabled: no backend has a publicUrl to redirect clients to (backends[].publicUrl)',
      ]);
      assert.equal(problems({ mode: 'registry', registry: { storage: '/tmp/x' }, routing: on }).length, 1);
      assert.deepEqual(problems({ mode: 'registry', registry: { storage: '/tmp/x' }, routing: { ...on, secret: SECRET } }), []);
      assert.deepEqual(problems({ mode: 'active-standby', backends: withPublic, routing: { ...on, secret: SECRET } }), []);
      // The embedded default (no backends) makes up a secret for its replicas.
      assert.deepEqual(problems({ mode: 'active-standby', routing: on }), []);
    });

    it('bounds expiresMs and takes publicUrl as scheme://host[:port] only', () => {
      assert.deepEqual(problems({ mode: 'active-active', backends: withPublic, routing: { secret: SECRET, blobRedirect: { enabled: true, expiresMs: 999 } } }), [
        'routing.blobRedirect.expiresMs: must be >= 1000',
      ]);
      assert.equal(problems({ mode: 'active-active', backends: withPublic, routing: { secret: SECRET, blobRedirect: { enabled: true, expiresMs: 86_400_001 } } }).length, 1);
      for (const publicUrl of ['https://r1.example.com/v2', 'https://u:p@r1.example.com', 'ftp://r1', 'https://r1:99999']) {
        assert.deepEqual(problems({ mode: 'active-active', backends: [{ ...backends[0], publicUrl }] }), [
          'backends[0].publicUrl: must be scheme://host[:port] (http or https, no path, no user:password@)',
        ], publicUrl);
      }
    });
  });
});
