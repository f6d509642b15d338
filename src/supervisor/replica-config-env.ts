// The validated config of an embedded replica, handed to it by its supervisor (as a proxy's
// primary hands its config to its workers over IPC): the replica then never imports the config
// loader, whose schema compile (ajv) and file checks keep about 8.5 MiB of RSS in each replica
// for the life of the process (measured: registry modules alone 57 MiB, with the loader 66 MiB).
// It travels as the first line on the replica's stdin, not in its environment: the validated
// config holds the secrets read from their files, and a process's environment is readable in
// /proc/<pid>/environ and printed by tools that dump it. The environment only says "a config
// follows on stdin". The replica's config file is still written, for operators (it names the
// secret files, not their contents).
import type { Readable } from 'node:stream';

export const REPLICA_CONFIG_ENV = 'HA_PROXY_REPLICA_CONFIG';
const ON_STDIN = 'stdin';

/** The environment entry telling a replica its config follows on stdin. */
export function replicaConfigEnv(): Record<string, string> {
  return { [REPLICA_CONFIG_ENV]: ON_STDIN };
}

/** The line the supervisor writes first on the replica's stdin. */
export function replicaConfigLine(config: unknown): string {
  return `${JSON.stringify(config)}\n`;
}

export function configOnStdin(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[REPLICA_CONFIG_ENV] === ON_STDIN;
}

/**
 * Reads the first line of `input` as JSON and leaves the stream paused after it: the stdin pipe
 * stays watched for the supervisor's death (exit-with-parent.ts), which only sees EOF once the
 * stream is resumed.
 */
export function readConfigLine(input: Readable = process.stdin): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    const cleanup = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      cleanup();
      const rest = text.slice(newline + 1);
      if (rest) input.unshift(Buffer.from(rest, 'utf8'));
      try {
        resolve(JSON.parse(text.slice(0, newline)));
      } catch (err) {
        reject(new Error(`the config handed over on stdin is not JSON: ${(err as Error).message}`));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('stdin closed before the supervisor handed over the config'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
  });
}
