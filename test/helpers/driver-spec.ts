// A storage driver described as JSON, so a child process (another "replica") can open the same
// storage as the test: the filesystem driver on a directory, or the S3 driver on a bucket prefix.
import { FsDriver } from '../../src/registry/storage/fs-driver.js';
import type { StorageDriver } from '../../src/registry/storage/driver.js';
import { S3Client } from '../../src/registry/storage/s3-client.js';
import { S3Driver } from '../../src/registry/storage/s3-driver.js';

export type DriverSpec =
  | { kind: 'fs'; root: string }
  | { kind: 's3'; endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; prefix: string };

export function driverFromSpec(spec: DriverSpec): StorageDriver {
  if (spec.kind === 'fs') return new FsDriver(spec.root);
  const credentials = { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey };
  return new S3Driver(new S3Client({ endpoint: spec.endpoint, region: spec.region, bucket: spec.bucket }, () => credentials), spec.prefix);
}
