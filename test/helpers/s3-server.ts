// A real S3 server for tests: Ceph's RADOS Gateway on a one-node cluster, started and stopped
// by scripts/s3-dev.sh with its state in a temporary directory. Without the Debian packages the
// tests that need it are skipped on a developer machine and fail in CI (which installs them).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './processes.js';
import { toolPath } from './tools.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 's3-dev.sh');
const PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd'];

export interface S3Server {
  /** `http://127.0.0.1:PORT` (path-style addressing, SigV4). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
  /** The variables the script printed: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... HA_S3_BUCKET. */
  env: Record<string, string>;
  /** The script's state directory (PIDs under pids/, daemon logs under log/). */
  dir: string;
  stop(): Promise<void>;
}

/**
 * For `describe(..., { skip: s3Skip() })`: false when the packages are installed, else the
 * reason to skip; in CI a missing package throws instead, so the suite fails rather than skips.
 */
export function s3Skip(): string | false {
  const missing = PACKAGES.filter((p) => !toolPath(p));
  if (missing.length === 0) return false;
  const hint = `${missing.join(', ')} not installed (apt-get install --no-install-recommends ${PACKAGES.join(' ')})`;
  if (process.env.CI) throw new Error(hint);
  return hint;
}

/** Parses `export NAME=VALUE` lines. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

const started = new Set<string>();
// A test process that ends without its after() hook (an uncaught error) must not leave three
// daemons and their memory behind.
process.on('exit', () => {
  for (const dir of started) stopSync(dir);
});

function stopSync(dir: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore' });
  } catch {
    // best effort at exit
  }
}

/** Starts a fresh cluster (about 1-2 s here) with an empty bucket. */
export async function startS3Server(): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'ha-proxy-s3-'));
  started.add(dir);
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [SCRIPT, 'start', dir], { timeout: 120_000 }));
  } catch (err) {
    started.delete(dir);
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/s3-dev.sh start failed: ${e.stderr || e.message}`);
  }
  const env = parseExports(stdout);
  for (const name of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'HA_S3_BUCKET']) {
    if (!env[name]) throw new Error(`scripts/s3-dev.sh printed no ${name}:\n${stdout}`);
  }
  return {
    endpoint: env.AWS_ENDPOINT_URL,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    region: env.AWS_REGION,
    bucket: env.HA_S3_BUCKET,
    env,
    dir,
    stop: async () => {
      if (!started.delete(dir)) return;
      await run('bash', [SCRIPT, 'stop', dir], { timeout: 30_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
