// The benchmark's /proc readings that are pure: the stat line and the PSS of smaps_rollup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePssKiB, parseStat, treePssMiB } from '../../bench/proc-stats.js';

test('parseStat reads ppid, CPU ticks and RSS pages after a command name holding spaces and parentheses', () => {
  const line = '42 (node (worker) 1) S 7 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 11 0 1000 123456789 2048 18446744073709551615';
  assert.deepEqual(parseStat(line), { ppid: 7, cpuTicks: 175, rssPages: 2048 });
});

test('parsePssKiB takes the Pss line, not Pss_Anon or Pss_File', () => {
  const rollup = [
    '55a0c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]',
    'Rss:               64756 kB',
    'Pss:               34212 kB',
    'Pss_Dirty:         19592 kB',
    'Pss_Anon:          19592 kB',
    'Pss_File:          14620 kB',
  ].join('\n');
  assert.equal(parsePssKiB(rollup), 34212);
  assert.equal(parsePssKiB('Rss: 10 kB\nPss_Anon: 5 kB\n'), 0);
});

test('treePssMiB of this process is positive and no more than its RSS; a pid that is gone counts nothing', () => {
  const own = treePssMiB([process.pid]);
  assert.ok(own > 0, `PSS ${own} MiB`);
  assert.ok(own <= process.memoryUsage().rss / 1024 / 1024 + 1, `PSS ${own} MiB`);
  assert.equal(treePssMiB([2 ** 22 + 1]), 0);
});
