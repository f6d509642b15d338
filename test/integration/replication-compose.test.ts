import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseCliArgs } from '../../src/cli/args.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);

interface Compose {
  services: Record<string, { command?: string[]; volumes?: (string | { source: string; target: string })[]; image?: string }>;
  volumes: Record<string, unknown>;
}

describe('docker-compose.yml', () => {
  it('is accepted by docker-compose config, with a proxy, two replicas on their own volumes and redis', async (t) => {
    if (!requireTool(t, 'docker-compose')) return;
    const { stdout } = await run('docker-compose', ['-f', `${REPO_ROOT}docker-compose.yml`, 'config'], { cwd: REPO_ROOT });
    const compose = parseYaml(stdout) as Compose;
    assert.deepEqual(Object.keys(compose.services).sort(), ['proxy', 'redis', 'replica-1', 'replica-2']);
    const volumeOf = (name: string) => compose.services[name].volumes?.map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
    assert.deepEqual(volumeOf('replica-1'), ['replica-1-data']);
    assert.deepEqual(volumeOf('replica-2'), ['replica-2-data']);
    assert.ok('redis-data' in compose.volumes);

    // Every ha-proxy command in the file is a valid ha-proxy configuration.
    for (const name of ['proxy', 'replica-1', 'replica-2']) {
      const config = loadConfig({ overrides: parseCliArgs(compose.services[name].command ?? []).overrides });
      if (name === 'proxy') {
        assert.deepEqual(config.backends.map((b) => b.url), ['http://replica-1:5000', 'http://replica-2:5000']);
        assert.equal(config.redis?.url, 'redis://redis:6379');
      }
      else {
        assert.equal(config.mode, 'registry');
        assert.equal(config.replication.peers.length, 1);
        assert.equal(config.replication.ack, 'all');
      }
    }
  });
});
