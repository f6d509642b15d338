// The storage driver contract (the suite the filesystem driver passes) against the S3 driver on
// a real S3 server: Ceph's RADOS Gateway from scripts/s3-dev.sh.
import { randomUUID } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { S3Client } from '../../src/registry/storage/s3-client.js';
import { S3Driver } from '../../src/registry/storage/s3-driver.js';
import { driverContract } from '../helpers/driver-contract.js';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';

describe('storage driver contract: S3 (radosgw)', { skip: s3Skip() }, () => {
  let s3: S3Server;
  let client: S3Client;
  before(async () => {
    s3 = await startS3Server();
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket }, () => s3);
  });
  after(async () => {
    await s3?.stop();
  });

  // Each test gets its own key prefix: empty storage without a new bucket.
  const prefixes = new Map<S3Driver, string>();
  driverContract(
    () => {
      const prefix = `t-${randomUUID()}/`;
      const driver = new S3Driver(client, prefix);
      prefixes.set(driver, prefix);
      return driver;
    },
    (d) => client.listMultipart(prefixes.get(d as S3Driver)!),
  );
});
