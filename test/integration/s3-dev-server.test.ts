// scripts/s3-dev.sh: the one-node Ceph S3 server starts with a bucket, and stop ends exactly the
// daemons it recorded.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { s3Skip, startS3Server, type S3Server } from '../helpers/s3-server.js';

function isRunning(pid: number): boolean {
  try {
    // A zombie has ended; only PID 1 has yet to reap it.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

function recordedPids(dir: string): number[] {
  return ['rgw', 'osd', 'mon'].map((name) => Number(readFileSync(join(dir, 'pids', `${name}.pid`), 'utf8')));
}

describe('scripts/s3-dev.sh', { skip: s3Skip() }, () => {
  let s3: S3Server;
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => {
    await s3?.stop();
  });

  it('prints a loopback endpoint, credentials, a region and a bucket that exists', async () => {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(s3.accessKeyId, /^[0-9A-F]{20}$/);
    assert.match(s3.secretAccessKey, /^[0-9a-f]{40}$/);
    assert.equal(s3.region, 'us-east-1');
    // Anonymous requests: a bucket that exists is forbidden, one that does not is not found.
    const ours = await fetch(`${s3.endpoint}/${s3.bucket}`);
    assert.equal(ours.status, 403, await ours.text());
    const other = await fetch(`${s3.endpoint}/no-such-bucket`);
    assert.equal(other.status, 404);
    assert.match(await other.text(), /NoSuchBucket/);
  });

  it('stop ends the three recorded daemons and the endpoint closes', async () => {
    const pids = recordedPids(s3.dir);
    assert.deepEqual(pids.map(isRunning), [true, true, true]);
    const dir = s3.dir;
    await s3.stop();
    assert.deepEqual(pids.map(isRunning), [false, false, false]);
    assert.equal(existsSync(dir), false);
    await assert.rejects(fetch(s3.endpoint), /fetch failed/);
  });
});
