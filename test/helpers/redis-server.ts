// A throwaway redis-server on a free loopback port: no persistence, stopped by PID.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { startProcess, type Managed } from './processes.js';

export interface RedisServer extends Managed {
  port: number;
  url: string;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts redis-server (on `port` when given, e.g. to restart one in place) and waits for PONG. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const proc = startProcess('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const deadline = Date.now() + 15_000;
  while (!(await ping(p))) {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited (${proc.child.exitCode}):\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${p} did not answer:\n${proc.output()}`);
    await sleep(50);
  }
  return { ...proc, port: p, url: `redis://127.0.0.1:${p}` };
}
