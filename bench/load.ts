// Load generators: wrk for small GETs (with a Lua `done` hook that prints a JSON summary, so
// nothing depends on wrk's human-readable output) and curl for one big download at a time.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SUMMARY_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,"badStatus":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

let scriptPath: string | undefined;
function summaryScript(): string {
  if (!scriptPath) {
    scriptPath = join(mkdtempSync(join(tmpdir(), 'bench-wrk-')), 'summary.lua');
    writeFileSync(scriptPath, SUMMARY_LUA);
  }
  return scriptPath;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  /** Responses that were not 2xx or 3xx. */
  badStatus: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  return JSON.parse(line.slice('WRKJSON '.length)) as WrkResult;
}

export const failedRequests = (r: WrkResult): number => r.connectErrors + r.readErrors + r.writeErrors + r.timeouts + r.badStatus;

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
}

export async function wrk(options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', summaryScript(), options.url];
  const { stdout } = await run('wrk', args, { maxBuffer: 4 * 1024 * 1024, timeout: (options.seconds + 60) * 1000 });
  return parseWrkOutput(stdout);
}

export interface DownloadResult {
  bytes: number;
  seconds: number;
  status: number;
}

/**
 * One GET of `url` into /dev/null, following a redirect (a blob redirect to the replica); curl
 * costs far less CPU per byte than a Node client would.
 */
export async function download(url: string): Promise<DownloadResult> {
  const { stdout } = await run('curl', ['-s', '-L', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], { timeout: 300_000 });
  const [status, bytes, seconds] = stdout.trim().split(' ').map(Number);
  return { status, bytes, seconds };
}
