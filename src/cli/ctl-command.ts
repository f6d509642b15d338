// `ha-proxy ctl ...`: the admin API from a shell. Reads GET /status, posts the operator actions
// with the bearer token from --token-file, and prints a table (or the JSON with --json). Every
// failure ends with a message saying what to fix and exit status 1 (2 for a bad command line).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';

export const CTL_USAGE = `Usage: ha-proxy ctl COMMAND [NAME] [N] [--admin URL] [--token-file FILE] [--json]

Commands:
  status                show every backend: state, admin state, weight, active, in flight, last check
  drain NAME            no new requests to NAME; open uploads and sticky clients finish on it
  ready NAME            NAME takes traffic again
  maint NAME            nothing goes to NAME (health checks go on)
  weight NAME N         runtime weight of NAME for the balancers (1..256)
  failback              active-standby with manual failback: move back to the best healthy backend
  reload                re-read the config file and apply it in place (as SIGHUP): prints what
                        changed and the settings that need a restart; a refused file: every problem

Options:
  --admin URL           the admin listener (default http://127.0.0.1:9090)
  --token-file FILE     a file whose first line is the admin token (admin.tokenFile); needed by
                        every command but status
  --json                print the answer as JSON
`;

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

interface CtlArgs {
  command: string;
  name?: string;
  value?: string;
  admin: string;
  tokenFile?: string;
  json: boolean;
}

interface StatusBackend {
  name: string;
  state: string;
  admin: string;
  weight: number;
  active: boolean;
  inflight: number;
  lastCheck?: { ok: boolean; at: string; detail: string };
}

interface StatusBody {
  mode: string;
  active: string | null;
  backends: StatusBackend[];
}

/** A failure to report: the message is the whole story. */
export class CtlError extends Error {}

const NEEDS_NAME = new Set(['drain', 'ready', 'maint', 'weight']);
const COMMANDS = new Set(['status', 'failback', 'reload', ...NEEDS_NAME]);

interface ReloadBody {
  changes: string[];
  restartNeeded: string[];
  workers?: { switched: number; of: number };
}

function parseCtlArgs(argv: string[]): CtlArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { admin: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [command, name, value, ...rest] = parsed.positionals;
  if (parsed.values.help) return { command: 'help', admin: DEFAULT_ADMIN_URL, json: false };
  if (command === undefined || !COMMANDS.has(command)) throw new UsageError(`ctl: unknown command ${JSON.stringify(command ?? '')}`);
  if (NEEDS_NAME.has(command) && name === undefined) throw new UsageError(`ctl ${command}: give the backend NAME`);
  if (command === 'weight' && value === undefined) throw new UsageError('ctl weight: give the backend NAME and the weight N');
  const expected = command === 'weight' ? 2 : NEEDS_NAME.has(command) ? 1 : 0;
  if ([name, value, ...rest].filter((p) => p !== undefined).length > expected) throw new UsageError(`ctl ${command}: too many arguments`);
  return { command, name, value, admin: (parsed.values.admin ?? DEFAULT_ADMIN_URL).replace(/\/+$/, ''), tokenFile: parsed.values['token-file'], json: parsed.values.json ?? false };
}

function readToken(file: string | undefined, command: string): string {
  if (file === undefined) throw new CtlError(`ctl ${command}: operator actions need the admin token: give --token-file FILE (the file admin.tokenFile names)`);
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/)[0].trim();
  } catch (err) {
    throw new CtlError(`ctl ${command}: cannot read --token-file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

async function request(args: CtlArgs, path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${args.admin}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    const hint = cause === 'ECONNREFUSED' ? 'connection refused: is ha-proxy running, and is --admin its adminListen?' : String(cause);
    throw new CtlError(`cannot reach the admin listener at ${args.admin} (${hint})`);
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) throw new CtlError(`refused (${res.status}): ${text.trim()}${args.tokenFile ? '' : ' (give --token-file)'}`);
  if (!res.ok) {
    let message = text.trim();
    try {
      const body = JSON.parse(text) as { error?: string; problems?: string[] };
      // A refused config: one problem a line, as `path: reason`.
      message = body.problems ? `the config was not applied:\n${body.problems.map((p) => `  ${p}`).join('\n')}` : (body.error ?? message);
    } catch {
      // plain text
    }
    throw new CtlError(`${init.method ?? 'GET'} ${path}: ${res.status} ${message}`);
  }
  return JSON.parse(text) as unknown;
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

export function statusTable(status: StatusBody): string {
  const rows = [['NAME', 'STATE', 'ADMIN', 'WEIGHT', 'ACTIVE', 'INFLIGHT', 'LAST CHECK']];
  for (const b of status.backends) {
    const check = b.lastCheck ? `${b.lastCheck.ok ? 'ok' : 'failed'} ${b.lastCheck.at} ${b.lastCheck.detail}` : '-';
    rows.push([b.name, b.state, b.admin, String(b.weight), b.active ? 'yes' : 'no', String(b.inflight), check]);
  }
  return `mode: ${status.mode}  active: ${status.active ?? '-'}\n${pad(rows)}\n`;
}

export function reloadSummary(result: ReloadBody): string {
  const lines = ['config reloaded'];
  lines.push(result.changes.length === 0 ? '  nothing changed' : `  changed: ${result.changes.join(', ')}`);
  if (result.restartNeeded.length > 0) lines.push(`  need a restart (running values kept): ${result.restartNeeded.join(', ')}`);
  if (result.workers) lines.push(`  workers switched: ${result.workers.switched} of ${result.workers.of}`);
  return `${lines.join('\n')}\n`;
}

async function act(args: CtlArgs): Promise<string> {
  if (args.command === 'status') {
    const status = (await request(args, '/status', {})) as StatusBody;
    return args.json ? `${JSON.stringify(status)}\n` : statusTable(status);
  }
  const headers = { authorization: `Bearer ${readToken(args.tokenFile, args.command)}`, 'content-type': 'application/json' };
  if (args.command === 'reload') {
    const result = (await request(args, '/reload', { method: 'POST', headers })) as ReloadBody;
    return args.json ? `${JSON.stringify(result)}\n` : reloadSummary(result);
  }
  if (args.command === 'failback') {
    const status = (await request(args, '/failback', { method: 'POST', headers })) as StatusBody;
    return args.json ? `${JSON.stringify(status)}\n` : `failback requested; active: ${status.active ?? '-'}\n`;
  }
  const path = `/backends/${encodeURIComponent(args.name!)}/${args.command === 'weight' ? 'weight' : 'state'}`;
  const body = args.command === 'weight' ? { weight: /^\d+$/.test(args.value!) ? Number(args.value) : args.value } : { state: args.command };
  const result = (await request(args, path, { method: 'POST', headers, body: JSON.stringify(body) })) as {
    backend: string;
    state: string;
    weight: number;
    previous: { state: string; weight: number };
  };
  if (args.json) return `${JSON.stringify(result)}\n`;
  return args.command === 'weight'
    ? `backend ${result.backend}: weight ${result.previous.weight} -> ${result.weight}\n`
    : `backend ${result.backend}: ${result.previous.state} -> ${result.state}\n`;
}

/** Runs the command; resolves the exit code. */
export async function runCtlCommand(argv: string[]): Promise<number> {
  const args = parseCtlArgs(argv);
  if (args.command === 'help') {
    process.stdout.write(CTL_USAGE);
    return 0;
  }
  try {
    process.stdout.write(await act(args));
    return 0;
  } catch (err) {
    if (!(err instanceof CtlError)) throw err;
    process.stderr.write(`ha-proxy ctl: ${err.message}\n`);
    return 1;
  }
}
