// A replica command that cannot even be spawned is retried with backoff, like one that crashes;
// a stopped replica gets its own drain timeout (plus its shutdown) before it is killed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import pino from 'pino';
import { stopGraceMs } from '../../src/process/stop-grace.js';
import { SupervisedChild } from '../../src/supervisor/supervised-child.js';

describe('supervised child', () => {
  it('restarts a command that failed to spawn, and stops cleanly', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const child = new SupervisedChild({ name: 'ghost', command: join(tmpdir(), 'no-such-ha-proxy-binary'), args: [] }, { minDelayMs: 10, maxDelayMs: 20 }, logger);
    child.start();
    const deadline = Date.now() + 10_000;
    while (lines.filter((l) => l.includes('replica could not start')).length < 3 && Date.now() < deadline) await sleep(10);
    await child.stop(1000);
    const failures = lines.filter((l) => l.includes('replica could not start')).length;
    assert.ok(failures >= 3, `expected repeated spawn attempts, saw ${failures}`);
    const after = lines.length;
    await sleep(100);
    assert.equal(lines.length, after, 'no restart after stop');
  });

  it('restarts a child that exits, with a new pid in the pid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'supervised-'));
    const script = join(dir, 'exit-soon.js');
    writeFileSync(script, 'setTimeout(() => process.exit(3), 50);\n');
    const pidFile = join(dir, 'child.pid');
    const logger = pino({ level: 'silent' });
    const child = new SupervisedChild({ name: 'short', command: process.execPath, args: [script], pidFile }, { minDelayMs: 10, maxDelayMs: 20 }, logger);
    child.start();
    const first = readFileSync(pidFile, 'utf8');
    const deadline = Date.now() + 10_000;
    while (readFileSync(pidFile, 'utf8') === first && Date.now() < deadline) await sleep(20);
    await child.stop(1000);
    assert.notEqual(readFileSync(pidFile, 'utf8'), first);
  });

  it('lets a child drain for its own drain timeout before SIGKILL, past the old fixed 10 s', async () => {
    // Longer than the 10 s every replica used to get, whatever its registry.drainTimeoutMs.
    const drainMs = 11_000;
    const dir = mkdtempSync(join(tmpdir(), 'supervised-'));
    const script = join(dir, 'slow-drain.cjs');
    const ready = join(dir, 'ready');
    const drained = join(dir, 'drained');
    // Like a replica finishing an upload after SIGTERM: it exits by itself once its drain is over.
    writeFileSync(
      script,
      [
        "const { writeFileSync } = require('node:fs');",
        `process.on('SIGTERM', () => setTimeout(() => { writeFileSync(${JSON.stringify(drained)}, 'ok'); process.exit(0); }, ${drainMs}));`,
        'setInterval(() => {}, 1000);',
        `writeFileSync(${JSON.stringify(ready)}, 'ok');`,
      ].join('\n'),
    );
    const logger = pino({ level: 'silent' });
    const child = new SupervisedChild({ name: 'slow', command: process.execPath, args: [script], stopGraceMs: stopGraceMs(drainMs) }, { minDelayMs: 10, maxDelayMs: 20 }, logger);
    child.start();
    // The SIGTERM handler must be in place before stop() sends the signal.
    const deadline = Date.now() + 10_000;
    while (!existsSync(ready) && Date.now() < deadline) await sleep(20);
    await child.stop();
    assert.ok(existsSync(drained), 'the child finished its drain instead of being killed');
  });
});
