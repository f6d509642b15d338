// A listener that cannot bind ends the whole process with status 1 and stops everything it had
// started: no half-started registry serving /v2/ without its admin listener, no embedded
// supervisor keeping replicas alive with no proxy in front, nor restarting forever a replica
// whose port another process took. One case per listener and mode.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { isAlive, startHaProxy, waitForHttp, type Managed } from '../helpers/processes.js';
import { eventually } from '../helpers/replicas.js';

/** Generous: a loaded machine starts replicas slowly; a process that never exits fails the test. */
const EXIT_DEADLINE_MS = 60_000;

const held: Server[] = [];
const started: Managed[] = [];
after(async () => {
  await Promise.all(started.map((p) => p.stop('SIGKILL')));
  for (const server of held) server.close();
});

/** Binds a free loopback port and keeps it, so ha-proxy finds it taken. */
async function takenPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

/** Binds `port` on loopback and keeps it (retrying while a killed process's socket goes away). */
async function takePort(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) return void held.push(server);
    if (Date.now() > deadline) throw new Error(`cannot take port ${port}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts ha-proxy and waits for it to exit by itself; a process still running at the deadline fails. */
async function exitOf(args: string[]): Promise<{ code: number | null; output: string }> {
  return exitOfProcess(startHaProxy(args));
}

async function exitOfProcess(proc: Managed): Promise<{ code: number | null; output: string }> {
  started.push(proc);
  if (proc.child.exitCode !== null) return { code: proc.child.exitCode, output: proc.output() };
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(-1), EXIT_DEADLINE_MS);
    proc.child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code === -1) await proc.stop('SIGKILL');
  assert.notEqual(code, -1, `still running after ${EXIT_DEADLINE_MS} ms:\n${proc.output().slice(-3000)}`);
  return { code, output: proc.output() };
}

function assertListenFailure(result: { code: number | null; output: string }, key: string, port: number): void {
  assert.equal(result.code, 1, result.output);
  assert.match(result.output, new RegExp(`cannot listen on ${key} 127\\.0\\.0\\.1:${port}`), result.output);
  assert.doesNotMatch(result.output, /\n\s+at /, 'a clear message, not a stack trace');
}

async function assertRefused(port: number): Promise<void> {
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`), `port ${port} is closed again`);
}

describe('registry mode: a taken port ends the process', () => {
  it('exits 1 when adminListen is taken, and stops serving /v2/', async () => {
    const [port, admin] = [await freePort(), await takenPort()];
    const storage = mkdtempSync(join(tmpdir(), 'listen-fail-'));
    const result = await exitOf(['--mode', 'registry', '--storage', storage, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`]);
    assertListenFailure(result, 'adminListen', admin);
    await assertRefused(port);
  });

  it('exits 1 when listen is taken', async () => {
    const [port, admin] = [await takenPort(), await freePort()];
    const storage = mkdtempSync(join(tmpdir(), 'listen-fail-'));
    const result = await exitOf(['--mode', 'registry', '--storage', storage, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`]);
    assertListenFailure(result, 'listen', port);
    await assertRefused(admin);
  });
});

for (const workers of ['1', '2']) {
  describe(`proxy with backends, --workers ${workers}: a taken port ends the process`, () => {
    const backend = ['--backend', 'http://127.0.0.1:9'];
    it('exits 1 when listen is taken', async () => {
      const [port, admin] = [await takenPort(), await freePort()];
      const result = await exitOf(['--mode', 'active-active', ...backend, '--workers', workers, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`]);
      assertListenFailure(result, 'listen', port);
      await assertRefused(admin);
    });

    it('exits 1 when adminListen is taken', async () => {
      const [port, admin] = [await freePort(), await takenPort()];
      const result = await exitOf(['--mode', 'active-active', ...backend, '--workers', workers, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`]);
      assertListenFailure(result, 'adminListen', admin);
      await assertRefused(port);
    });
  });

  describe(`embedded default, --workers ${workers}: a taken port ends the process and its replicas`, () => {
    for (const key of ['listen', 'adminListen'] as const) {
      it(`exits 1 when ${key} is taken, and its replicas are stopped`, async () => {
        const taken = await takenPort();
        const other = await freePort();
        const [port, admin] = key === 'listen' ? [taken, other] : [other, taken];
        const data = mkdtempSync(join(tmpdir(), 'listen-fail-embedded-'));
        const result = await exitOf(['--mode', 'active-standby', '--data', data, '--workers', workers, '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`]);
        assertListenFailure(result, key, taken);
        const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
        for (const name of ['replica-1', 'replica-2']) {
          const pid = Number(readFileSync(join(data, `${name}.pid`), 'utf8'));
          await eventually(async () => !isAlive(pid), () => `${name} (pid ${pid}) stopped`);
        }
        for (const p of ports) await assertRefused(p.listen);
      });
    }
  });
}

describe('embedded default: a replica whose port another process took', () => {
  it('is restarted a few times, then ha-proxy gives up with the listen error and exits 1, stopping the other replica', async () => {
    const [port, admin] = [await freePort(), await freePort()];
    const data = mkdtempSync(join(tmpdir(), 'listen-fail-restart-'));
    const file = join(data, 'ha-proxy.json');
    // A second before each restart: time for the test to take the port of the killed replica.
    const config = { mode: 'active-standby', listen: `127.0.0.1:${port}`, adminListen: `127.0.0.1:${admin}`, workers: 1, logLevel: 'warn', embedded: { data, restartMinDelayMs: 1000, restartMaxDelayMs: 1000 } };
    writeFileSync(file, JSON.stringify(config));
    const proc = startHaProxy(['--config', file]);
    await waitForHttp(`http://127.0.0.1:${port}/v2/`, { proc, statuses: [200], timeoutMs: 60_000 });
    const ports = (JSON.parse(readFileSync(join(data, 'embedded.json'), 'utf8')) as { ports: { listen: number }[] }).ports;
    const [first, second] = ['replica-1', 'replica-2'].map((name) => Number(readFileSync(join(data, `${name}.pid`), 'utf8')));
    process.kill(first, 'SIGKILL');
    await eventually(async () => !isAlive(first), () => `replica-1 (pid ${first}) killed`);
    await takePort(ports[0].listen);

    const result = await exitOfProcess(proc);
    assert.equal(result.code, 1, result.output.slice(-3000));
    const taken = `cannot listen on listen 127\\.0\\.0\\.1:${ports[0].listen}: address already in use \\(EADDRINUSE\\)`;
    assert.match(result.output, new RegExp(`ha-proxy: replica-1: ${taken} \\(5 starts in a row\\): giving up`));
    assert.equal(result.output.match(new RegExp(`^ha-proxy: ${taken}$`, 'gm'))?.length, 5, 'five failed starts, each printing its error');
    await eventually(async () => !isAlive(second), () => `replica-2 (pid ${second}) stopped`);
    await assertRefused(ports[1].listen);
  });
});
