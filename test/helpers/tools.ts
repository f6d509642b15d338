// External tools the integration tests drive. In CI a missing tool fails the test (CI installs
// them); on a developer machine the test is skipped with the package to install.
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const PACKAGES: Record<string, string> = {
  skopeo: 'skopeo',
  'docker-registry': 'docker-registry',
  'redis-server': 'redis-server',
  haproxy: 'haproxy',
  nginx: 'nginx',
  'docker-compose': 'docker-compose',
};

export function toolPath(tool: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Returns true when the tool exists; otherwise fails (CI) or skips (elsewhere) the test. */
export function requireTool(t: TestContext, tool: string): boolean {
  if (toolPath(tool)) return true;
  const hint = `${tool} is not installed (apt-get install ${PACKAGES[tool] ?? tool})`;
  if (process.env.CI) throw new Error(hint);
  t.skip(hint);
  return false;
}
