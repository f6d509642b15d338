import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKER_SEMI_SPACE_MIB, workerExecArgv } from '../../src/proxy/workers/worker-node-flags.js';

describe('workerExecArgv', () => {
  it("adds the workers' young-generation cap to the primary's flags", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps']), ['--enable-source-maps', `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`]);
  });

  it("keeps an operator's own young-generation size", () => {
    assert.deepEqual(workerExecArgv(['--max-semi-space-size=32']), ['--max-semi-space-size=32']);
  });
});
