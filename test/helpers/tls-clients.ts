// Clients for TLS tests: curl (HTTP/2 by ALPN), a raw TLS handshake (which certificate does the
// server present?) and node:http2 sessions for requests the proxy must take over HTTP/2.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `curl ARGS -w '%{http_version} %{http_code}'`: the protocol version spoken and the status; the body goes to `output`. */
export async function curlStatus(args: string[], output = '/dev/null'): Promise<{ version: string; status: number }> {
  const { stdout } = await run('curl', ['-sS', '-o', output, '-w', '%{http_version} %{http_code}', ...args], { timeout: 60_000 });
  const [version, status] = stdout.trim().split(' ');
  return { version, status: Number(status) };
}

/** The CN of the certificate the server presents to a new connection asking for `servername`. */
export function presentedCertificate(port: number, ca: string, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername, checkServerIdentity: () => undefined }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.once('error', reject);
  });
}

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on an HTTP/2 session; `body` chunks are written one by one, with no Content-Length. */
export function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body: Buffer[] = []): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body.length === 0 });
    const chunks: Buffer[] = [];
    let responseHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    for (const chunk of body) stream.write(chunk);
    if (body.length > 0) stream.end();
  });
}

export function h2Session(url: string, ca: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url, { ca: readFileSync(ca) });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}
