// Entry point: arguments -> validated config -> the runner for the chosen mode.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';
import { ListenError } from '../net/listen.js';
import { StartupError } from '../errors/startup-error.js';
import type { Config } from '../config/types.js';
import { receiveClusterConfig } from '../proxy/workers/cluster-protocol.js';
import { tuneHeapForRequests } from '../process/heap-tuning.js';
import { startStreamGcPacer, StreamGcSettingError } from '../process/stream-gc-pacer.js';
import { isClusterWorker } from '../process/worker-role.js';
import { SUPERVISED_ENV } from '../supervisor/exit-with-parent.js';
import { configOnStdin, readConfigLine } from '../supervisor/replica-config-env.js';
import { parseCliArgs, USAGE, UsageError } from './args.js';

export const EXIT_CONFIG = 2;
/** A listener could not bind: everything started is stopped again and the process ends. */
export const EXIT_START_FAILED = 1;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Reads the config again as at start-up (the file, then the command line over it): SIGHUP and POST /reload. */
type ConfigSource = () => Config;

async function run(config: Config, reloadSource: ConfigSource | undefined): Promise<void> {
  if (config.mode === 'registry') {
    // A replica started by the embedded supervisor stops when the supervisor is gone.
    const { exitWithParent } = await import('../supervisor/exit-with-parent.js');
    exitWithParent();
    const { runRegistry } = await import('../registry/run.js');
    await runRegistry(config);
  } else if (config.backends.length === 0) {
    // No backends: the one-command default, built-in replicas supervised behind the proxy.
    const { runEmbedded } = await import('../supervisor/run-embedded.js');
    await runEmbedded(config, reloadSource);
  } else {
    // One process, or a primary and --workers N workers.
    const { runProxyMode } = await import('../proxy/workers/run-proxy-mode.js');
    await runProxyMode(config, { reloadSource });
  }
}

async function runGc(argv: string[]): Promise<number> {
  const { runGcCommand, GC_USAGE } = await import('./gc-command.js');
  try {
    return await runGcCommand(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ha-proxy: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ha-proxy: ${err.message}\n\n${GC_USAGE}`);
    return EXIT_CONFIG;
  }
}

async function runCtl(argv: string[]): Promise<number> {
  const { runCtlCommand, CTL_USAGE } = await import('./ctl-command.js');
  try {
    return await runCtlCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ha-proxy: ${err.message}\n\n${CTL_USAGE}`);
    return EXIT_CONFIG;
  }
}

/** Returns the exit code for failures before start-up; a running server exits through its own shutdown. */
export async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'gc') return runGc(argv.slice(1));
  if (argv[0] === 'ctl') return runCtl(argv.slice(1));
  tuneHeapForRequests();
  let config: Config;
  let reloadSource: ConfigSource | undefined;
  try {
    const args = parseCliArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`ha-proxy ${packageVersion()}\n`);
      return 0;
    }
    startStreamGcPacer();
    // A proxy worker (--workers N) runs on the config its primary validated, sent over IPC; an
    // embedded replica on the one its supervisor validated, on its stdin. The loader (YAML
    // parser, ajv) is only imported by processes that read a config themselves.
    if (isClusterWorker()) config = await receiveClusterConfig();
    else if (process.env[SUPERVISED_ENV] === '1' && configOnStdin()) config = (await readConfigLine()) as Config;
    else {
      const { loadConfig } = await import('../config/load.js');
      reloadSource = () => loadConfig({ file: args.configFile, overrides: args.overrides });
      config = reloadSource();
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof StreamGcSettingError) {
      process.stderr.write(`ha-proxy: ${err.message}\n`);
      if (err instanceof UsageError) process.stderr.write(`\n${USAGE}`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  try {
    await run(config, reloadSource);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ha-proxy: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    if (err instanceof ListenError || err instanceof StartupError) {
      process.stderr.write(`ha-proxy: ${err.message}\n`);
      return EXIT_START_FAILED;
    }
    throw err;
  }
  return undefined;
}
