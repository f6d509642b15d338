import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error.js';
import { instancePathToDotted } from '../../src/config/format-errors.js';
import { loadConfig, validateConfigObject } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema/index.js';
import { REPO_ROOT } from '../helpers/processes.js';

function problemsOf(input: Record<string, unknown>): string[] {
  try {
    validateConfigObject(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('config', () => {
  it('fills every default so the runtime never guesses', () => {
    const config = validateConfigObject({ mode: 'active-standby', backends: [{ url: 'http://127.0.0.1:5001' }] });
    assert.equal(config.listen, '127.0.0.1:5000');
    assert.equal(config.healthCheck.path, '/v2/');
    assert.deepEqual(config.healthCheck.expectStatus, [200, 401]);
    assert.equal(config.healthCheck.onMarkedDown, 'finish-transfers');
    assert.equal(config.backends[0].weight, 1);
    assert.equal(config.retries, 2);
  });

  it('reports each problem as path: reason', () => {
    const problems = problemsOf({
      mode: 'active-standby',
      backends: [{ url: 'http://127.0.0.1:5001' }, { url: 'ftp://nope' }],
      listen: 'nowhere',
      healthCheck: { rise: 0, bogus: true },
    });
    assert.ok(problems.includes('backends[1].url: must be an http(s) URL (a port, if given, from 0 to 65535)'), problems.join('\n'));
    assert.ok(problems.includes('listen: must be HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:5000)'), problems.join('\n'));
    assert.ok(problems.includes('healthCheck: unknown property "bogus"'), problems.join('\n'));
    assert.ok(problems.includes('healthCheck.rise: must be >= 1'), problems.join('\n'));
  });

  it('names the allowed values of an enum', () => {
    assert.deepEqual(problemsOf({ mode: 'fast' }), ['mode: must be one of active-standby, active-active, registry']);
    assert.deepEqual(problemsOf({ mode: 'active-standby', healthCheck: { onMarkedDown: 'cut' } }), ['healthCheck.onMarkedDown: must be one of finish-transfers, shutdown-sessions']);
  });

  it('rejects duplicate backend names', () => {
    const problems = problemsOf({ mode: 'active-active', backends: [{ name: 'a', url: 'http://x:1' }, { name: 'a', url: 'http://y:1' }] });
    assert.deepEqual(problems, ['backends[1].name: duplicate backend name "a"']);
  });

  it('reports an unreadable peer password file instead of crashing at start-up', () => {
    const problems = problemsOf({
      mode: 'registry',
      registry: { storage: '/tmp/x' },
      replication: { peers: [{ url: 'http://127.0.0.1:5002', username: 'u', passwordFile: '/nonexistent/ha-proxy-password' }] },
    });
    assert.deepEqual(problems, ['replication.peers[0].passwordFile: cannot read /nonexistent/ha-proxy-password (ENOENT)']);
  });

  it('refuses a duration past Node\'s longest timer, which would fire after 1 ms instead', () => {
    const problems = problemsOf({ mode: 'active-standby', healthCheck: { intervalMs: 3_000_000_000 }, drainTimeoutMs: 2 ** 31 });
    assert.deepEqual(problems, ['healthCheck.intervalMs: must be <= 2147483647', 'drainTimeoutMs: must be <= 2147483647']);
    assert.equal(validateConfigObject({ mode: 'active-standby', healthCheck: { intervalMs: 2 ** 31 - 1 } }).healthCheck.intervalMs, 2 ** 31 - 1);
  });

  it('refuses a port past 65535 in listeners and URLs', () => {
    const problems = problemsOf({
      mode: 'active-standby',
      listen: '127.0.0.1:99999',
      adminListen: '[::1]:65536',
      backends: [{ url: 'http://127.0.0.1:70000' }, { url: 'http://u:p@127.0.0.1:65535/prefix' }],
      redis: { url: 'redis://127.0.0.1:123456' },
    });
    assert.deepEqual(problems, [
      'listen: must be HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:5000)',
      'adminListen: must be HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:5000)',
      'backends[0].url: must be an http(s) URL (a port, if given, from 0 to 65535)',
      'redis.url: must be a redis:// or rediss:// URL (a port, if given, from 0 to 65535)',
    ]);
    const ok = validateConfigObject({ mode: 'active-standby', listen: ':65535', adminListen: '[::1]:0', redis: { url: 'redis://:pw@127.0.0.1:6379/2' } });
    assert.equal(ok.listen, ':65535');
  });

  it('bounds every numeric key of every schema section, durations by Node\'s longest timer', () => {
    const unbounded: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.type === 'integer' || schema.type === 'number') {
        if (typeof schema.minimum !== 'number' || typeof schema.maximum !== 'number') unbounded.push(`${path}: no minimum or maximum`);
        else if (path.endsWith('Ms') && schema.maximum > 2 ** 31 - 1) unbounded.push(`${path}: maximum past 2^31-1 ms`);
      }
      for (const [key, value] of Object.entries(schema)) walk(value, key === 'properties' || key === 'items' ? path : `${path}.${key}`);
    };
    walk(configSchema, 'config');
    assert.deepEqual(unbounded, []);
  });

  it('checks admin.tokenFile at start-up: readable, a token of at least 16 characters', () => {
    const dir = mkdtempSync(join(tmpdir(), 'admin-token-'));
    writeFileSync(join(dir, 'short'), 'abc\n');
    writeFileSync(join(dir, 'good'), 'a-token-of-enough-length\n');
    assert.deepEqual(problemsOf({ mode: 'active-standby', admin: { tokenFile: join(dir, 'short') } }), [
      'admin.tokenFile: the token on its first line must be at least 16 characters without spaces',
    ]);
    assert.deepEqual(problemsOf({ mode: 'active-standby', admin: { tokenFile: join(dir, 'missing') } }), [`admin.tokenFile: cannot read ${join(dir, 'missing')} (ENOENT)`]);
    const config = validateConfigObject({ mode: 'active-standby', admin: { tokenFile: join(dir, 'good') } });
    assert.equal(config.admin.tokenFile, join(dir, 'good'));
    assert.equal(config.admin.token, 'a-token-of-enough-length');
  });

  it('reads a peer password file once, at load, and hands its content on as the password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peer-password-'));
    writeFileSync(join(dir, 'password'), 'from-the-file\n');
    const peers = [
      { url: 'http://127.0.0.1:5002', username: 'u', passwordFile: join(dir, 'password') },
      { url: 'http://127.0.0.1:5003', username: 'u', password: 'inline', passwordFile: join(dir, 'password') },
    ];
    const config = validateConfigObject({ mode: 'registry', registry: { storage: '/tmp/x' }, replication: { peers } });
    assert.deepEqual(config.replication.peers.map((p) => p.password), ['from-the-file', 'inline']);
  });

  it('converts JSON pointers to dotted paths', () => {
    assert.equal(instancePathToDotted(''), 'config');
    assert.equal(instancePathToDotted('/backends/1/url'), 'backends[1].url');
    assert.equal(instancePathToDotted('/a~1b/c'), 'a/b.c');
  });

  it('loads every example in config/', () => {
    const dir = `${REPO_ROOT}config`;
    const examples = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('docker-'));
    assert.ok(examples.length > 0, 'config/ holds at least one example');
    for (const file of examples) {
      assert.doesNotThrow(() => loadConfig({ file: `${dir}/${file}` }), `config/${file} is valid`);
    }
  });
});

describe('config: registry.s3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-config-s3-'));
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'the-secret-key\n');
  const AWS = { AWS_ENDPOINT_URL: 'http://127.0.0.1:7480', AWS_ACCESS_KEY_ID: 'env-key', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_REGION: 'eu-west-1' };
  const registry = (s3: Record<string, unknown>, env: Record<string, string> = {}) => validateConfigObject({ mode: 'registry', registry: { s3 } }, env).registry.s3!;
  const s3Problems = (input: Record<string, unknown>, env: Record<string, string> = {}) => {
    try {
      validateConfigObject(input, env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
    assert.fail('expected the config to be rejected');
  };

  it('takes what the config names and reads the secret from its file once', () => {
    const s3 = registry({ bucket: 'images', endpoint: 'http://minio:9000', region: 'local', prefix: 'reg', accessKeyId: 'cfg-key', secretAccessKeyFile: secretFile }, AWS);
    assert.equal(s3.endpoint, 'http://minio:9000');
    assert.equal(s3.region, 'local');
    assert.equal(s3.prefix, 'reg/');
    assert.equal(s3.accessKeyId, 'cfg-key');
    assert.equal(s3.secretAccessKey, 'the-secret-key');
    assert.equal(s3.forcePathStyle, true);
    assert.equal(s3.redirect, false);
    assert.equal(s3.redirectExpiresMs, 1_200_000);
    assert.deepEqual(s3.timeouts, { connectMs: 5000, responseHeadersMs: 30_000, bodyIdleMs: 30_000 });
  });

  it('takes a public endpoint for presigned URLs as an origin, and refuses one with a path', () => {
    assert.equal(registry({ bucket: 'images', redirectEndpoint: 'https://s3.example.com:8443/' }, AWS).redirectEndpoint, 'https://s3.example.com:8443');
    assert.equal(registry({ bucket: 'images' }, AWS).redirectEndpoint, undefined);
    assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images', redirectEndpoint: 'https://s3.example.com/p' } } }, AWS).join('\n'), /registry\.s3\.redirectEndpoint/);
  });

  it('takes S3 timeouts within their bounds and refuses one that would turn a bound off', () => {
    assert.deepEqual(registry({ bucket: 'images', timeouts: { connectMs: 250, bodyIdleMs: 90_000 } }, AWS).timeouts, { connectMs: 250, responseHeadersMs: 30_000, bodyIdleMs: 90_000 });
    for (const timeouts of [{ connectMs: 0 }, { responseHeadersMs: 0 }, { bodyIdleMs: 999 }, { connectMs: 3_000_000_000 }, { readMs: 1000 }]) {
      assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images', timeouts } } }, AWS).join('\n'), /registry\.s3\.timeouts/, JSON.stringify(timeouts));
    }
  });

  it('fills what the config leaves out from the AWS environment variables', () => {
    const s3 = registry({ bucket: 'images' }, { ...AWS, AWS_SESSION_TOKEN: 'tok' });
    assert.deepEqual(
      { endpoint: s3.endpoint, region: s3.region, id: s3.accessKeyId, secret: s3.secretAccessKey, token: s3.sessionToken, pathStyle: s3.forcePathStyle },
      { endpoint: 'http://127.0.0.1:7480', region: 'eu-west-1', id: 'env-key', secret: 'env-secret', token: 'tok', pathStyle: true },
    );
    // No endpoint anywhere: AWS itself, virtual-hosted addressing.
    const aws = registry({ bucket: 'images' }, { AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' });
    assert.equal(aws.endpoint, 'https://s3.us-east-1.amazonaws.com');
    assert.equal(aws.forcePathStyle, false);
  });

  it('refuses a config without credentials, half credentials, a bad endpoint or both storages', () => {
    assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images' } } }).join('\n'), /registry\.s3: no credentials/);
    assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images', accessKeyId: 'k' } } }, AWS).join('\n'), /secretAccessKeyFile: required/);
    assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images' } } }, { ...AWS, AWS_ENDPOINT_URL: 'http://h:1/path' }).join('\n'), /AWS_ENDPOINT_URL: must be http\(s\):\/\/host\[:port\]/);
    assert.match(s3Problems({ mode: 'registry', registry: { storage: '/tmp/x', s3: { bucket: 'images' } } }, AWS).join('\n'), /not both/);
    const missing = s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images', accessKeyId: 'k', secretAccessKeyFile: join(dir, 'none') } } });
    assert.deepEqual(missing, [`registry.s3.secretAccessKeyFile: cannot read ${join(dir, 'none')} (ENOENT)`]);
  });

  it('refuses bucket names and prefixes S3 would not take', () => {
    for (const bucket of ['Up', 'a', 'a_b', '-ab']) assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket } } }, AWS).join('\n'), /registry\.s3\.bucket/, bucket);
    for (const prefix of ['/abs', 'a//b', 'a/../b', '..', 'a b']) assert.match(s3Problems({ mode: 'registry', registry: { s3: { bucket: 'images', prefix } } }, AWS).join('\n'), /registry\.s3\.prefix/, prefix);
  });
});
