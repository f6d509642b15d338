import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfigObject } from '../../src/config/load.js';
import { parseCliArgs, UsageError } from '../../src/cli/args.js';
import { clusterConfigEnv, CLUSTER_CONFIG_ENV, CLUSTER_CONFIG_MAX_CHARS } from '../../src/proxy/workers/cluster-protocol.js';
import { workerCount } from '../../src/proxy/workers/run-proxy-mode.js';

describe('--workers', () => {
  it('defaults to one worker per CPU, and 1 means a single process', () => {
    const config = validateConfigObject({ mode: 'active-standby', backends: [{ url: 'http://127.0.0.1:5001' }] });
    assert.equal(config.workers, 0);
    assert.equal(workerCount(config, 8), 8);
    assert.equal(workerCount({ workers: 1 }, 8), 1);
    assert.equal(workerCount({ workers: 3 }, 8), 3);
  });

  it('takes --workers from the command line and rejects what is not a whole number', () => {
    assert.equal(parseCliArgs(['--mode', 'active-active', '--workers', '4']).overrides.workers, 4);
    assert.throws(() => parseCliArgs(['--workers', 'many']), UsageError);
    assert.throws(() => validateConfigObject({ mode: 'active-standby', workers: -1 }), /workers: must be >= 0/);
  });

  it('hands the validated config to the workers, unless it is too big for one variable', () => {
    const config = validateConfigObject({ mode: 'active-standby', backends: [{ url: 'http://127.0.0.1:5001', name: 'a' }], routing: { secret: 's3cret-of-32-characters-or-more!!' } });
    assert.deepEqual(JSON.parse(clusterConfigEnv(config)[CLUSTER_CONFIG_ENV]), config);
    const big = { ...config, padding: 'x'.repeat(CLUSTER_CONFIG_MAX_CHARS) };
    assert.deepEqual(clusterConfigEnv(big), {});
  });
});

describe('redis config', () => {
  it('fills the key prefix and the command timeout, and checks the URL scheme', () => {
    const config = validateConfigObject({ mode: 'active-standby', redis: { url: 'redis://127.0.0.1:6379' } });
    assert.deepEqual(config.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'ha-proxy:', commandTimeoutMs: 250, leaseMs: 3000 });
    assert.throws(() => validateConfigObject({ mode: 'active-standby', redis: { url: 'http://x' } }), /redis.url: must be a redis:\/\/ or rediss:\/\/ URL/);
  });
});
