// A body whose sender went away before storage started reading it (a peer SIGKILLed while the
// replica was opening the file for its blob) must fail the write and close the file. It used to
// wait forever for bytes that could not come, until the garbage collector closed the file
// ("Closing file descriptor N on garbage collection", DEP0137, seen in chaos runs).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../src/oci/digest.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';
import { settledOrCollected } from '../helpers/gc-warnings.js';

const data = Buffer.alloc(256 * 1024, 3);
const digest = digestOf('sha256', data);

describe('storage closes its file when the body was gone before it was read', () => {
  let server: Server;
  let port: number;
  let onGone: (req: IncomingMessage) => void = () => undefined;

  before(async () => {
    server = createServer((req) => req.once('close', () => onGone(req)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.close();
  });

  /**
   * Sends part of a body and resets the connection; once the server has seen the request close,
   * starts `fn` on it. Only the work is handed back: nothing here keeps the request alive.
   */
  async function afterClientGone(fn: (req: IncomingMessage) => Promise<unknown>): Promise<{ work: Promise<unknown> }> {
    const handed = new Promise<{ work: Promise<unknown> }>((resolve) => {
      onGone = (req) => resolve({ work: fn(req) });
    });
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-length': data.length } });
    req.on('error', () => undefined);
    req.write(data.subarray(0, 1024), () => setImmediate(() => req.destroy()));
    return handed;
  }

  it('a blob put whose sender has gone fails and leaves no file to the garbage collector', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fh-storage-'));
    const store = ImageStore.onDirectory(root);
    const result = await settledOrCollected((await afterClientGone((req) => store.blobs.put('app', req, digest, data.length))).work);
    assert.equal(result.outcome, 'settled', JSON.stringify(result));
    assert.ok('error' in result && result.error instanceof Error, 'the put must fail');
    assert.equal(await store.blobs.stat('app', digest), undefined);
    assert.deepEqual(readdirSync(join(root, '_tmp')), []);
  });

  it('an upload chunk whose sender has gone fails and leaves no file to the garbage collector', { timeout: 60_000 }, async () => {
    const store = ImageStore.onDirectory(mkdtempSync(join(tmpdir(), 'fh-storage-')));
    const upload = await store.uploads.create('app');
    const result = await settledOrCollected((await afterClientGone((req) => store.uploads.append('app', upload.id, req))).work);
    assert.equal(result.outcome, 'settled', JSON.stringify(result));
    assert.ok('error' in result && result.error instanceof Error, 'the append must fail');
    assert.equal((await store.uploads.status('app', upload.id)).size, 0);
  });
});
