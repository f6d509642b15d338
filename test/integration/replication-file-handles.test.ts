// A replica must close every file it opens, also when the peer it copies to fails: a handle left
// to the garbage collector is closed at an arbitrary later time (Node warns "Closing file
// descriptor N on garbage collection", DEP0137), and under steady peer faults the open files pile
// up until then. The peer here answers the existence check and then dies on the upload, the way
// a replica killed between the two requests of a blob copy does; and it dies after the first bytes
// of a blob it serves, the way a replica killed during an on-demand fetch does.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { copyBlobToPeer } from '../../src/registry/replication/copy-to-peer.js';
import { ImageStoreAdapter } from '../../src/registry/replication/image-store-adapter.js';
import { PeerClient } from '../../src/registry/replication/peer-client.js';
import { digestOf } from '../../src/oci/digest.js';
import { ImageStore } from '../../src/registry/storage/image-store.js';
import { gcWarnings, settledOrCollected } from '../helpers/gc-warnings.js';

describe('replication closes local files when the peer fails', () => {
  let peer: Server;
  let peerUrl: string;

  before(async () => {
    // Answers "blob unknown" to the existence check, then dies on the upload: every connection is
    // reset. A GET gets the headers and the first bytes of a blob, then a reset.
    peer = createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-length': 64 * 1024 });
        res.write(Buffer.alloc(1024), () => req.socket.destroy());
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
        return;
      }
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });

  after(() => {
    peer.close();
  });

  it('a blob copy whose upload the peer never takes leaves no file handle to the garbage collector', async () => {
    const store = ImageStore.onDirectory(mkdtempSync(join(tmpdir(), 'fh-replica-')));
    const data = Buffer.alloc(64 * 1024, 7);
    const digest = digestOf('sha256', data);
    await store.blobs.put('app', Readable.from([data]), digest);
    const client = new PeerClient({ url: peerUrl, origin: 'test', idleTimeoutMs: 5000 });
    try {
      const warnings = await gcWarnings(async () => {
        for (let i = 0; i < 3; i++) {
          await assert.rejects(copyBlobToPeer(new ImageStoreAdapter(store), client, 'app', digest.value, 0, { objects: 0, bytes: 0 }));
        }
      });
      assert.deepEqual(warnings, []);
    } finally {
      client.close();
    }
  });

  it('an on-demand blob fetch whose peer died before the store read the body fails and closes the file', { timeout: 60_000 }, async () => {
    const store = new ImageStoreAdapter(ImageStore.onDirectory(mkdtempSync(join(tmpdir(), 'fh-replica-'))));
    const digest = digestOf('sha256', Buffer.alloc(64 * 1024)).value;
    const client = new PeerClient({ url: peerUrl, origin: 'test', idleTimeoutMs: 5000 });
    try {
      const result = await settledOrCollected((await putAfterPeerGone(store, client, digest)).work);
      assert.equal(result.outcome, 'settled', JSON.stringify(result));
      assert.ok('error' in result && result.error instanceof Error, 'the fetch must fail');
      assert.equal(await store.hasBlob('app', digest), false);
    } finally {
      client.close();
    }
  });
});

/** Starts storing the peer's blob once its response has closed; hands back only the work, so nothing here keeps the response alive. */
async function putAfterPeerGone(store: ImageStoreAdapter, client: PeerClient, digest: string): Promise<{ work: Promise<void> }> {
  const remote = await client.getBlob('app', digest);
  assert.ok(remote, 'the peer answers 200');
  const stream = remote.stream;
  await new Promise((resolve) => (stream.closed ? resolve(undefined) : stream.once('close', resolve)));
  return { work: store.putBlob('app', digest, stream, remote.size) };
}
