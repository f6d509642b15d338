// Debian's `docker-registry` (distribution 2.8) as an independent peer, on loopback with its
// own storage directory.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, waitForHttp, type Managed } from './processes.js';

export interface DockerRegistry extends Managed {
  url: string;
  port: number;
  storage: string;
}

export async function startDockerRegistry(options: { port?: number; storage?: string } = {}): Promise<DockerRegistry> {
  const port = options.port ?? (await freePort());
  const storage = options.storage ?? mkdtempSync(join(tmpdir(), 'docker-registry-'));
  const configPath = join(mkdtempSync(join(tmpdir(), 'docker-registry-config-')), 'config.yml');
  writeFileSync(
    configPath,
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${storage} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '  secret: ha-proxy-test-secret',
      '',
    ].join('\n'),
  );
  const proc = startProcess('docker-registry', ['serve', configPath]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/v2/`, { proc, statuses: [200] });
  return { ...proc, url, port, storage };
}
