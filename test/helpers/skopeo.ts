// skopeo as the real client: plain HTTP on loopback, no signature policy, no auth.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const policyDir = mkdtempSync(join(tmpdir(), 'skopeo-policy-'));
const POLICY = join(policyDir, 'policy.json');
writeFileSync(POLICY, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

/** `skopeo copy SRC DST` with TLS verification off for docker:// references on loopback. */
export async function skopeoCopy(src: string, dst: string, extra: string[] = []): Promise<string> {
  const args = ['--policy', POLICY, '--insecure-policy', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...extra, src, dst];
  if (!src.startsWith('docker://')) args.splice(args.indexOf('--src-tls-verify=false'), 1);
  if (!dst.startsWith('docker://')) args.splice(args.indexOf('--dest-tls-verify=false'), 1);
  const { stdout, stderr } = await run('skopeo', args, { maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
  return stdout + stderr;
}

/** The digest of the manifest a docker:// reference resolves to. */
export async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', ref], { maxBuffer: 16 * 1024 * 1024 });
  const { createHash } = await import('node:crypto');
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

/** `skopeo copy` with TLS verified against the CA certificates in `certDir` (its ca.crt) for docker:// ends. */
export async function skopeoCopyVerified(src: string, dst: string, certDir: string): Promise<string> {
  const args = ['--policy', POLICY, '--insecure-policy', 'copy'];
  if (src.startsWith('docker://')) args.push('--src-cert-dir', certDir);
  if (dst.startsWith('docker://')) args.push('--dest-cert-dir', certDir);
  const { stdout, stderr } = await run('skopeo', [...args, src, dst], { maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
  return stdout + stderr;
}
