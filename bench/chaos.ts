// The long chaos run, by hand: `npm run chaos -- --minutes 10 [--pushers 8] [--pullers 4]`.
// Same run as test/integration/chaos.test.ts (see test/helpers/chaos.ts), for longer; prints
// each fault as it happens and the report as JSON at the end (exit 1 if an image was lost).
// `--output FILE` keeps everything the proxy and its replicas print (e.g. with
// NODE_OPTIONS=--trace-warnings, the stacks behind a warning the report counts).
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { runChaos, startEmbedded } from '../test/helpers/chaos.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    pushers: { type: 'string', default: '8' },
    pullers: { type: 'string', default: '4' },
    replicas: { type: 'string', default: '2' },
    'fault-every-seconds': { type: 'string', default: '10' },
    output: { type: 'string' },
  },
});
const gap = Number(values['fault-every-seconds']) * 1000;
const embedded = await startEmbedded(Number(values.replicas));
if (values.output !== undefined) {
  const file = createWriteStream(values.output);
  embedded.proc.child.stdout?.pipe(file);
  embedded.proc.child.stderr?.pipe(file);
}
const started = Date.now();
try {
  const report = await runChaos(embedded, {
    durationMs: Number(values.minutes) * 60_000,
    pushers: Number(values.pushers),
    pullers: Number(values.pullers),
    faultGapMs: [gap / 2, gap * 1.5],
    freezeMs: [2000, 10_000],
    convergeTimeoutMs: 300_000,
    log: (line) => console.log(`${((Date.now() - started) / 1000).toFixed(1)} s  ${line}`),
  });
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.lost.length === 0 ? 0 : 1;
} finally {
  await embedded.proc.stop('SIGTERM');
}
