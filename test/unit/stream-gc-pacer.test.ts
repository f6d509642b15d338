import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BytePacer, countedChunks, DEFAULT_STREAM_GC_MIB, streamGcBytes, StreamGcSettingError } from '../../src/process/stream-gc-pacer.js';
import { workerMallocEnv } from '../../src/proxy/workers/worker-node-flags.js';

const MIB = 1024 * 1024;

describe('BytePacer', () => {
  it('collects once per `everyBytes`, carrying nothing over a collection', () => {
    let collections = 0;
    const pacer = new BytePacer(4 * MIB, () => collections++);
    pacer.add(3 * MIB);
    assert.equal(collections, 0);
    pacer.add(MIB);
    assert.equal(collections, 1, 'at exactly 4 MiB');
    for (let i = 0; i < 64; i++) pacer.add(64 * 1024);
    assert.equal(collections, 2, '64 chunks of 64 KiB are one more 4 MiB');
    pacer.add(10 * MIB);
    assert.equal(collections, 3, 'one big chunk is one collection, not several');
  });

  it('never collects at an infinite pace (pacing off)', () => {
    let collections = 0;
    const pacer = new BytePacer(Infinity, () => collections++);
    for (let i = 0; i < 1000; i++) pacer.add(64 * MIB);
    assert.equal(collections, 0);
  });
});

describe('streamGcBytes', () => {
  it('defaults to DEFAULT_STREAM_GC_MIB, reads MiB, and 0 turns it off', () => {
    assert.equal(streamGcBytes({}), DEFAULT_STREAM_GC_MIB * MIB);
    assert.equal(streamGcBytes({ HA_PROXY_STREAM_GC_MIB: ' ' }), DEFAULT_STREAM_GC_MIB * MIB);
    assert.equal(streamGcBytes({ HA_PROXY_STREAM_GC_MIB: '8' }), 8 * MIB);
    assert.equal(streamGcBytes({ HA_PROXY_STREAM_GC_MIB: '0.5' }), MIB / 2);
    assert.equal(streamGcBytes({ HA_PROXY_STREAM_GC_MIB: '0' }), Infinity);
  });

  it('refuses what is not a number of MiB', () => {
    for (const bad of ['abc', '-1', 'Infinity', '4MiB']) {
      assert.throws(() => streamGcBytes({ HA_PROXY_STREAM_GC_MIB: bad }), (err: unknown) => err instanceof StreamGcSettingError && err.message.includes('HA_PROXY_STREAM_GC_MIB'), bad);
    }
  });
});

describe('workerMallocEnv', () => {
  it('keeps twice the pace freed, and 32 MiB when pacing is off', () => {
    assert.deepEqual(workerMallocEnv(4 * MIB), { MALLOC_TRIM_THRESHOLD_: String(8 * MIB) });
    assert.deepEqual(workerMallocEnv(Infinity), { MALLOC_TRIM_THRESHOLD_: String(32 * MIB) });
  });
});

describe('countedChunks', () => {
  it('passes every chunk on unchanged, in order', async () => {
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from('ab');
      yield Buffer.from('cde');
    }
    const seen: string[] = [];
    for await (const chunk of countedChunks(source())) seen.push(chunk.toString());
    assert.deepEqual(seen, ['ab', 'cde']);
  });

  it('returns the source when the consumer stops early (so a request body is not left open)', async () => {
    let returned = false;
    const source: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: Buffer.from('x') }),
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    for await (const _chunk of countedChunks(source)) break;
    assert.equal(returned, true);
  });
});
