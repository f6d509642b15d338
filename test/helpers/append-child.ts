// A writer in its own process, to be SIGKILLed by a test mid-append:
//   node append-child.js SPEC_JSON PATH OFFSET stream   writes random bytes without end; prints
//                                                       WROTE once 20 MiB are written
//   node append-child.js SPEC_JSON PATH OFFSET commit   appends and commits 9 MiB, prints
//                                                       COMMITTED, then waits (never acknowledged)
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { driverFromSpec, type DriverSpec } from './driver-spec.js';

const MiB = 1024 * 1024;
const [specJson, path, offset, mode] = process.argv.slice(2);
const driver = driverFromSpec(JSON.parse(specJson) as DriverSpec);
const writer = await driver.appendWriter(path, { offset: Number(offset) });
const chunk = randomBytes(MiB);

if (mode === 'commit') {
  for (let i = 0; i < 9; i++) if (!writer.stream.write(chunk)) await once(writer.stream, 'drain');
  await writer.commit();
  process.stdout.write('COMMITTED\n');
} else {
  let told = false;
  for (;;) {
    if (!writer.stream.write(chunk)) await once(writer.stream, 'drain');
    if (!told && writer.written() >= 20 * MiB) {
      told = true;
      process.stdout.write('WROTE\n');
    }
  }
}
setInterval(() => undefined, 60_000);
