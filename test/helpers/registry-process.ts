// The built-in registry (`ha-proxy --mode registry`) as a real process for integration tests.
// Settings without a CLI flag (deleteEnabled, htpasswd, ...) go through a small config file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startHaProxy, waitForHttp, type Managed } from './processes.js';
import { sha256 } from './oci-layout.js';
import type { S3Server } from './s3-server.js';

export interface RegistryProcess extends Managed {
  url: string;
  adminUrl: string;
  /** The storage directory ('' on S3). */
  storage: string;
  port: number;
}

/** A bucket prefix on a test S3 server; the credentials reach the registry as AWS_* variables. */
export interface S3Storage {
  server: S3Server;
  prefix: string;
  /** Further `registry.s3` settings, e.g. { redirect: true }. */
  settings?: Record<string, unknown>;
}

export interface RegistryProcessOptions {
  storage?: string;
  /** The registry on S3 (`registry.s3`) instead of a directory. */
  s3?: S3Storage;
  port?: number;
  /** Extra `registry:` settings, e.g. { deleteEnabled: true }. */
  registry?: Record<string, unknown>;
  /** Further top-level settings, e.g. `tls` (the URL is then https://) or `replication`. */
  config?: Record<string, unknown>;
  logLevel?: string;
}

/** The `registry.s3` section and the environment that completes it (endpoint and credentials). */
export function s3RegistrySettings(s3: S3Storage): { section: Record<string, unknown>; env: Record<string, string> } {
  return {
    section: { bucket: s3.server.bucket, prefix: s3.prefix, ...s3.settings },
    env: { AWS_ENDPOINT_URL: s3.server.endpoint, AWS_REGION: s3.server.region, AWS_ACCESS_KEY_ID: s3.server.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.server.secretAccessKey },
  };
}

export async function startRegistryProcess(options: RegistryProcessOptions = {}): Promise<RegistryProcess> {
  const storage = options.s3 ? '' : (options.storage ?? mkdtempSync(join(tmpdir(), 'ha-registry-')));
  const port = options.port ?? (await freePort());
  const adminPort = await freePort();
  const args = ['--mode', 'registry', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${adminPort}`];
  if (!options.s3) args.push('--storage', storage);
  const s3 = options.s3 && s3RegistrySettings(options.s3);
  if (options.registry || options.config || s3) {
    const file = join(mkdtempSync(join(tmpdir(), 'ha-registry-config-')), 'registry.json');
    const where = s3 ? { s3: s3.section } : { storage };
    writeFileSync(file, JSON.stringify({ ...options.config, mode: 'registry', registry: { ...where, ...options.registry } }));
    args.push('--config', file);
  }
  args.push('--log-level', options.logLevel ?? 'warn');
  const proc = startHaProxy(args, s3 ? { env: { ...process.env, ...s3.env } } : {});
  const url = `${options.config?.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  // The admin listener is plain HTTP: fetch there needs no CA. It starts after the API listener.
  await waitForHttp(options.config?.tls ? `${adminUrl}/livez` : `${url}/v2/`, { proc });
  return { ...proc, url, adminUrl, storage, port };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json: () => any;
  /** The first OCI error code in the body, if any. */
  code: () => string | undefined;
}

/** One HTTP request against a registry (fetch; use rawRequest for unnormalised paths). */
export async function call(base: string, method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method, headers: options.headers, body: options.body, redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    body,
    json: () => JSON.parse(body.toString()),
    code: () => {
      try {
        return (JSON.parse(body.toString()) as { errors?: { code: string }[] }).errors?.[0]?.code;
      } catch {
        return undefined;
      }
    },
  };
}

/** A request whose path is sent byte for byte (fetch would resolve `..`). */
export async function rawRequest(base: string, method: string, path: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Monolithic push of a blob (POST ?digest=); returns its sha256 digest. */
export async function pushBlob(base: string, repo: string, data: Buffer | string): Promise<string> {
  const digest = sha256(data);
  const res = await call(base, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'content-type': 'application/octet-stream' } });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${res.body.toString()}`);
  return digest;
}

/** Pushes a config blob plus an OCI image manifest (optionally with a subject); returns both. */
export async function pushImage(
  base: string,
  repo: string,
  reference: string,
  extra: Record<string, unknown> = {},
): Promise<{ manifest: Buffer; digest: string; configDigest: string; status: number }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: Math.random() }));
  const configDigest = await pushBlob(base, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [],
      ...extra,
    }),
  );
  const res = await call(base, 'PUT', `/v2/${repo}/manifests/${reference}`, { body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${res.body.toString()}`);
  return { manifest, digest: res.headers.get('docker-content-digest') ?? '', configDigest, status: res.status };
}
