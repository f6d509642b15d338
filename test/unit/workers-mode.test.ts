import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfigObject } from '../../src/config/load.js';
import { parseCliArgs, UsageError } from '../../src/cli/args.js';
import { workerConfig } from '../../src/proxy/workers/cluster-protocol.js';
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

  it('gives the workers the run\'s routing secret only when none is configured', () => {
    const backends = [{ url: 'http://127.0.0.1:5001', name: 'a' }];
    const configured = validateConfigObject({ mode: 'active-standby', backends, routing: { secret: 's3cret-of-32-characters-or-more!!' } });
    assert.equal(workerConfig(configured, 'run-secret'), configured);
    const unset = validateConfigObject({ mode: 'active-standby', backends });
    const forWorkers = workerConfig(unset, 'run-secret');
    assert.equal((forWorkers.routing as { secret?: string }).secret, 'run-secret');
    assert.equal((unset.routing as { secret?: string }).secret, undefined, 'the primary\'s own config is left alone');
  });
});

describe('redis config', () => {
  it('fills the key prefix and the command timeout, and checks the URL scheme', () => {
    const config = validateConfigObject({ mode: 'active-standby', redis: { url: 'redis://127.0.0.1:6379' } });
    assert.deepEqual(config.redis, { url: 'redis://127.0.0.1:6379', keyPrefix: 'ha-proxy:', commandTimeoutMs: 250, leaseMs: 3000 });
    assert.throws(() => validateConfigObject({ mode: 'active-standby', redis: { url: 'http://x' } }), /redis.url: must be a redis:\/\/ or rediss:\/\/ URL/);
  });
});
