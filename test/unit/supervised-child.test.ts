// A replica command that cannot even be spawned is retried with backoff, like one that crashes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import pino from 'pino';
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
});
