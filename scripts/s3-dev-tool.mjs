#!/usr/bin/env node
// Small helpers for s3-dev.sh that the shell has no portable tool for (curl and uuidgen are not
// on every machine; Node is):
//   free-port                      prints a TCP port that is free on 127.0.0.1 now
//   wait-s3 PID SECONDS            waits until process PID listens on a TCP port and answers S3
//                                  there, prints the port (exit 1 on timeout or when PID ends)
//   create-bucket                  PUT /$HA_S3_BUCKET on $AWS_ENDPOINT_URL, signed with SigV4
//                                  (radosgw-admin 16.2 has no `bucket create`); 409 "already
//                                  owned by you" counts as success
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether the process runs (a zombie has ended). */
function running(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

function httpStatus(url, options = {}, body, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(body);
  });
}

/** The port of a TCP socket that process `pid` listens on, from /proc (no ss or lsof needed). */
function listeningPort(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] local address HEX_IP:HEX_PORT, f[3] state (0A = LISTEN), f[9] inode
    if (f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':')[1], 16);
  }
  return undefined;
}

async function waitS3(pid, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let lastError = 'no listening socket yet';
  for (;;) {
    if (!running(pid)) throw new Error(`process ${pid} ended (${lastError})`);
    try {
      const port = listeningPort(pid);
      if (port !== undefined) {
        const res = await httpStatus(`http://127.0.0.1:${port}/`);
        // radosgw's root answers with XML (a bucket list, or AccessDenied without credentials).
        if (!res.body.includes('<?xml')) throw new Error(`not an S3 answer: ${res.status} ${res.body.slice(0, 80)}`);
        return port;
      }
    } catch (err) {
      lastError = err.message;
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} did not answer S3 within ${seconds} s (${lastError})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** AWS Signature Version 4 headers for a request without a query string. */
function sigV4Headers({ method, url, region, accessKeyId, secretAccessKey, body }) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const signedHeaders = Object.keys(headers).sort().join(';');
  const canonicalHeaders = Object.keys(headers).sort().map((h) => `${h}:${headers[h]}\n`).join('');
  const canonical = [method, url.pathname, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };
}

async function createBucket() {
  const env = process.env;
  const url = new URL(`/${env.HA_S3_BUCKET}`, env.AWS_ENDPOINT_URL);
  const body = '';
  const headers = sigV4Headers({ method: 'PUT', url, region: env.AWS_REGION, accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, body });
  // The first bucket writes rgw's metadata pools: allow for a loaded machine.
  const res = await httpStatus(url, { method: 'PUT', headers }, body, 30_000);
  if (res.status === 200 || (res.status === 409 && res.body.includes('BucketAlreadyOwnedByYou'))) return;
  throw new Error(`PUT ${url} answered ${res.status}: ${res.body}`);
}

const [cmd, ...args] = process.argv.slice(2);
try {
  if (cmd === 'free-port') console.log(await freePort());
  else if (cmd === 'wait-s3') console.log(await waitS3(Number(args[0]), Number(args[1])));
  else if (cmd === 'create-bucket') await createBucket();
  else throw new Error(`unknown command: ${cmd}`);
} catch (err) {
  console.error(`s3-dev-tool ${cmd}: ${err.message}`);
  process.exit(1);
}
