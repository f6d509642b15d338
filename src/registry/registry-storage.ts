// Which StorageDriver the registry (and `ha-proxy gc`) uses: the `registry.storage` directory,
// or the `registry.s3` bucket. Everything above the driver (image store, API, gc) is the same
// for both; what differs is named here once: how the storage is described in logs and errors,
// and whether blob GETs may be redirected to it.
import { resolve } from 'node:path';
import type { Config } from '../config/types.js';
import type { StorageDriver } from './storage/driver.js';
import { FsDriver } from './storage/fs-driver.js';
import { S3Client } from './storage/s3-client.js';
import { S3Driver } from './storage/s3-driver.js';

export type RegistryStorage =
  | { kind: 'filesystem'; driver: StorageDriver; root: string }
  | { kind: 's3'; driver: StorageDriver; endpoint: string; bucket: string; prefix: string; redirectMs?: number };

export function openRegistryStorage(registry: Pick<Config['registry'], 'storage' | 's3'>): RegistryStorage {
  const s3 = registry.s3;
  if (!s3) {
    const root = resolve(registry.storage ?? '.');
    return { kind: 'filesystem', driver: new FsDriver(root), root };
  }
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, sessionToken: s3.sessionToken };
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, virtualHosted: !s3.forcePathStyle, publicEndpoint: s3.redirectEndpoint }, () => credentials, s3.timeouts);
  return {
    kind: 's3',
    driver: new S3Driver(client, s3.prefix),
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    prefix: s3.prefix,
    redirectMs: s3.redirect ? s3.redirectExpiresMs : undefined,
  };
}

/** "/srv/registry" or "bucket b at http://host:port (prefix p/)": what logs and errors name. */
export function describeStorage(storage: RegistryStorage): string {
  if (storage.kind === 'filesystem') return storage.root;
  return `bucket "${storage.bucket}" at ${storage.endpoint}${storage.prefix ? ` (prefix ${storage.prefix})` : ''}`;
}
