// Chaos, short enough for CI: pushers and pullers through the embedded default while replicas
// are SIGKILLed and SIGSTOPped at random; no acknowledged image may be missing from any
// replica's disk once they have converged. The long variant: `npm run chaos -- --minutes 10`.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runChaos, startEmbedded, type Embedded } from '../helpers/chaos.js';

let embedded: Embedded | undefined;
after(async () => {
  await embedded?.proc.stop('SIGTERM');
});

describe('chaos: the embedded default under random SIGKILL and SIGSTOP of replicas', () => {
  it('loses no acknowledged push, on any replica disk', async () => {
    embedded = await startEmbedded();
    const report = await runChaos(embedded, { durationMs: 30_000, pushers: 4, pullers: 2, faultGapMs: [1500, 4000], freezeMs: [1500, 5000], convergeTimeoutMs: 90_000 });
    console.log(JSON.stringify(report, null, 2));
    assert.ok(report.faults.kill + report.faults.freeze >= 3, `only ${JSON.stringify(report.faults)} faults injected`);
    assert.ok(report.pushes.acknowledged > 0, 'no push was acknowledged');
    assert.deepEqual(report.lost, [], `acknowledged images missing after ${90} s of convergence`);
  });
});
