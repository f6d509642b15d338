import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCliArgs, UsageError } from '../../src/cli/args.js';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, validateConfigObject } from '../../src/config/load.js';

describe('replication config', () => {
  it('defaults to ack all, on-demand fetches and no peers', () => {
    const config = validateConfigObject({ mode: 'registry', registry: { storage: '/tmp/x' } });
    assert.equal(config.replication.ack, 'all');
    assert.equal(config.replication.onDemand, true);
    assert.deepEqual(config.replication.peers, []);
    assert.equal(config.replication.ackTimeoutMs, 5000);
    assert.equal(config.replication.peerTimeoutMs, 10000, 'peer calls outside an ack have their own timeout');
    assert.equal(config.embedded.replicas, 2);
    assert.equal(config.embedded.data, './data');
  });

  it('reports bad replication settings as path: reason', () => {
    try {
      validateConfigObject({ mode: 'registry', registry: { storage: '/x' }, replication: { ack: 'some', peers: [{ url: 'ftp://b' }], content: [{ tags: 'v.*' }] } });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.ok(text.includes('replication.ack: must be one of all, majority, one'), text);
      assert.ok(text.includes('replication.peers[0].url: must be an http(s) URL (a port, if given, from 0 to 65535)'), text);
      assert.ok(text.includes('replication.content[0]'), text);
    }
  });

  it('takes --replicas and --data for the embedded default', () => {
    const args = parseCliArgs(['--mode', 'active-standby', '--replicas', '3', '--data', '/srv/reg']);
    const config = loadConfig({ overrides: args.overrides });
    assert.equal(config.embedded.replicas, 3);
    assert.equal(config.embedded.data, '/srv/reg');
    assert.throws(() => parseCliArgs(['--replicas', 'two']), UsageError);
    assert.throws(() => loadConfig({ overrides: parseCliArgs(['--mode', 'active-active', '--replicas', '0']).overrides }), ConfigError);
  });
});
