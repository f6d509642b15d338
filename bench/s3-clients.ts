// Which S3 client the S3 storage driver should use, by measurement against a real S3 server
// (Ceph RADOS Gateway from scripts/s3-dev.sh, or the AWS_* variables when set):
//   - a 256 MiB object PUT from a stream and GET into a hash: MB/s, CPU s, peak RSS growth;
//   - small objects (4 KiB) PUT then GET, 8 at a time: operations per second.
// Each client runs in its own child process (clean RSS), in interleaved rounds.
// The candidates are not dependencies of ha-proxy; install them to measure:
//   npm install --no-save @aws-sdk/client-s3 @aws-sdk/lib-storage minio
//   npm run build && node dist/bench/s3-clients.js [--rounds 3] [--mib 256] [--small 400]
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { signRequest, UNSIGNED_PAYLOAD, sha256Hex, uriEncode } from '../src/registry/storage/s3-sigv4.js';
import { startS3Server } from '../test/helpers/s3-server.js';

const runFile = promisify(execFile);
const log = (line: string): void => void process.stderr.write(`[s3-clients] ${line}\n`);
const MiB = 1024 * 1024;

interface Env {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** What each candidate must do; `big*` stream, `small*` move whole buffers. */
interface Candidate {
  putStream(key: string, body: Readable, size: number): Promise<void>;
  getStream(key: string): Promise<Readable>;
  put(key: string, body: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  remove(key: string): Promise<void>;
}

// Loaded by name so the benchmark compiles without the candidates installed.
const load = (name: string): Promise<any> => import(name); // eslint-disable-line @typescript-eslint/no-explicit-any

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function awsSdk(env: Env, multipart: boolean): Promise<Candidate> {
  const s3 = await load('@aws-sdk/client-s3');
  const storage = multipart ? await load('@aws-sdk/lib-storage') : undefined;
  const client = new s3.S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    // SDK >= 3.729 adds CRC32 trailers (aws-chunked) by default; RGW 16.2 rejects them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = env.bucket;
  return {
    async putStream(Key, Body, size) {
      if (storage) {
        await new storage.Upload({ client, params: { Bucket, Key, Body }, partSize: 8 * MiB, queueSize: 4 }).done();
      } else {
        await client.send(new s3.PutObjectCommand({ Bucket, Key, Body, ContentLength: size }));
      }
    },
    async getStream(Key) {
      return (await client.send(new s3.GetObjectCommand({ Bucket, Key }))).Body as Readable;
    },
    async put(Key, Body) {
      await client.send(new s3.PutObjectCommand({ Bucket, Key, Body }));
    },
    async get(Key) {
      return readAll((await client.send(new s3.GetObjectCommand({ Bucket, Key }))).Body as Readable);
    },
    async remove(Key) {
      await client.send(new s3.DeleteObjectCommand({ Bucket, Key }));
    },
  };
}

async function minio(env: Env): Promise<Candidate> {
  const { Client } = await load('minio');
  const url = new URL(env.endpoint);
  const client = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: env.accessKeyId, secretKey: env.secretAccessKey, region: env.region, pathStyle: true });
  return {
    putStream: (key, body, size) => client.putObject(env.bucket, key, body, size),
    getStream: (key) => client.getObject(env.bucket, key),
    put: (key, body) => client.putObject(env.bucket, key, body),
    get: async (key) => readAll(await client.getObject(env.bucket, key)),
    remove: (key) => client.removeObject(env.bucket, key),
  };
}

/** undici and this project's SigV4 signer: the whole client is these few requests. */
async function undiciSigV4(env: Env): Promise<Candidate> {
  // Loaded here, like the others, so the load cost column compares alike.
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connections: 16 });
  const creds = { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey };
  const send = async (method: 'GET' | 'PUT' | 'DELETE', key: string, body?: Buffer | Readable, size?: number) => {
    const url = new URL(`/${env.bucket}/${uriEncode(key, true)}`, env.endpoint);
    const payloadHash = body === undefined ? sha256Hex('') : Buffer.isBuffer(body) ? sha256Hex(body) : UNSIGNED_PAYLOAD;
    const extra: Record<string, string> = size !== undefined ? { 'content-length': String(size) } : {};
    const headers = signRequest({ method, url, headers: extra, payloadHash, region: env.region, now: new Date() }, creds);
    const res = await request(url, { method, headers, body, dispatcher });
    if (res.statusCode >= 300) throw new Error(`${method} ${key}: ${res.statusCode} ${await res.body.text()}`);
    return res.body;
  };
  return {
    putStream: async (key, body, size) => void (await send('PUT', key, body, size).then((b) => b.dump())),
    getStream: async (key) => send('GET', key),
    put: async (key, body) => void (await send('PUT', key, body, body.length).then((b) => b.dump())),
    get: async (key) => Buffer.from(await (await send('GET', key)).arrayBuffer()),
    remove: async (key) => void (await send('DELETE', key).then((b) => b.dump())),
  };
}

const CANDIDATES: Record<string, (env: Env) => Promise<Candidate>> = {
  'aws-sdk PutObject': (env) => awsSdk(env, false),
  'aws-sdk lib-storage Upload': (env) => awsSdk(env, true),
  minio: (env) => minio(env),
  'undici + own SigV4': (env) => undiciSigV4(env),
};

/** `size` bytes of one repeated random MiB, produced as read: constant memory on this side. */
function generated(size: number, block: Buffer): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(block.length, size - sent);
      sent += n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

function expectedDigest(size: number, block: Buffer): string {
  const h = createHash('sha256');
  for (let sent = 0; sent < size; sent += block.length) h.update(block.subarray(0, Math.min(block.length, size - sent)));
  return h.digest('hex');
}

/** Runs fn while sampling RSS every 10 ms; returns seconds, CPU seconds and the RSS peak above the start. */
async function measured(fn: () => Promise<void>): Promise<{ seconds: number; cpu: number; rssPeakMiB: number }> {
  global.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { seconds, cpu: (c.user + c.system) / 1e6, rssPeakMiB: (peak - base) / MiB };
}

async function bounded(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await fn(next++);
  }));
}

async function child(name: string, env: Env, mib: number, small: number): Promise<Record<string, number>> {
  const loadTime = await measured(async () => void (await CANDIDATES[name](env)));
  const client = await CANDIDATES[name](env);
  const block = randomBytes(MiB);
  const size = mib * MiB;
  const key = `bench/${name.replace(/\W+/g, '-')}/big-${process.pid}`;
  const put = await measured(() => client.putStream(key, generated(size, block), size));
  let digest = '';
  const get = await measured(async () => {
    const h = createHash('sha256');
    await pipeline(await client.getStream(key), new Writable({ write: (c, _e, cb) => void (h.update(c), cb()) }));
    digest = h.digest('hex');
  });
  if (digest !== expectedDigest(size, block)) throw new Error(`${name}: the object read back differs`);
  await client.remove(key);
  const body = randomBytes(4096);
  const smallKey = (i: number) => `bench/${name.replace(/\W+/g, '-')}/small-${process.pid}-${i}`;
  const smallPut = await measured(() => bounded(small, 8, (i) => client.put(smallKey(i), body)));
  const smallGet = await measured(() => bounded(small, 8, async (i) => {
    if (!(await client.get(smallKey(i))).equals(body)) throw new Error(`${name}: small object ${i} differs`);
  }));
  await bounded(small, 8, (i) => client.remove(smallKey(i)));
  return {
    loadMs: loadTime.seconds * 1000,
    loadRssMiB: loadTime.rssPeakMiB,
    putMBs: size / 1e6 / put.seconds,
    putCpu: put.cpu,
    putRssMiB: put.rssPeakMiB,
    getMBs: size / 1e6 / get.seconds,
    getCpu: get.cpu,
    getRssMiB: get.rssPeakMiB,
    smallPutOps: small / smallPut.seconds,
    smallGetOps: small / smallGet.seconds,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, mib: { type: 'string', default: '256' }, small: { type: 'string', default: '400' }, child: { type: 'string' } } });
  const mib = Number(values.mib);
  const small = Number(values.small);
  if (values.child) {
    const e = process.env;
    const env = { endpoint: e.AWS_ENDPOINT_URL!, region: e.AWS_REGION!, bucket: e.HA_S3_BUCKET!, accessKeyId: e.AWS_ACCESS_KEY_ID!, secretAccessKey: e.AWS_SECRET_ACCESS_KEY! };
    process.stdout.write(JSON.stringify(await child(values.child, env, mib, small)));
    return;
  }
  const server = process.env.AWS_ENDPOINT_URL ? undefined : await startS3Server();
  const env = { ...process.env, ...server?.env };
  const results: Record<string, Record<string, number>[]> = {};
  const errors: Record<string, string> = {};
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const name of Object.keys(CANDIDATES)) {
        if (errors[name]) continue;
        try {
          const { stdout } = await runFile(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', name, '--mib', String(mib), '--small', String(small)], { env, maxBuffer: 1 << 20 });
          (results[name] ??= []).push(JSON.parse(stdout));
          log(`round ${round} ${name}: ${stdout}`);
        } catch (err) {
          errors[name] = String((err as { stderr?: string }).stderr || err).split('\n').slice(0, 6).join(' ');
          log(`${name} failed: ${errors[name]}`);
        }
      }
    }
  } finally {
    await server?.stop();
  }
  const cols = ['loadMs', 'loadRssMiB', 'putMBs', 'putCpu', 'putRssMiB', 'getMBs', 'getCpu', 'getRssMiB', 'smallPutOps', 'smallGetOps'];
  const lines = [`| client | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const [name, rows] of Object.entries(results)) {
    lines.push(`| ${name} | ${cols.map((c) => median(rows.map((r) => r[c])).toFixed(c.endsWith('Cpu') ? 2 : c.endsWith('MiB') ? 1 : 0)).join(' | ')} |`);
  }
  for (const [name, err] of Object.entries(errors)) lines.push(`| ${name} | failed: ${err.replace(/\|/g, '/')} |`);
  console.log(lines.join('\n'));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/s3-clients-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ mib, small, results, errors }, null, 2));
}

await main();
