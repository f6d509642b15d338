// node:cluster IPC adapted to the Port of state/worker-health.ts: the primary talks to each
// worker through its Worker object, a worker to the primary through process.send.
import type { Worker } from 'node:cluster';
import type { Port } from '../../state/worker-health.js';

export function workerPort(worker: Worker): Port {
  return {
    // A worker that is exiting can no longer receive; its replacement asks for a snapshot itself.
    send: (message) => {
      if (worker.isConnected()) worker.send(message as object, undefined, () => {});
    },
    onMessage: (handler) => void worker.on('message', handler),
  };
}

export function primaryPort(): Port {
  return {
    send: (message) => {
      if (process.connected) process.send?.(message, undefined, undefined, () => {});
    },
    onMessage: (handler) => void process.on('message', handler),
  };
}
