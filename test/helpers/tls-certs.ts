// A throwaway PKI for TLS tests, made with the openssl command line (node:crypto cannot issue
// X.509 certificates): a CA, then server and client certificates it signs, in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file): what clients and the proxy trust. */
  cert: string;
  /** Issues a certificate for the given subjectAltNames (e.g. `DNS:localhost`, `IP:127.0.0.1`). */
  issue(name: string, altNames: string[]): Issued;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function createTestCa(label = 'ha-proxy test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'ha-proxy-pki-'));
  const cert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  openssl(['req', '-x509', ...KEY, '-keyout', caKey, '-out', cert, '-days', '2', '-subj', `/CN=${label}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 1;
  return {
    dir,
    cert,
    issue(name, altNames) {
      const base = join(dir, `${name}-${serial}`);
      const ext = `${base}.ext`;
      writeFileSync(ext, `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${altNames.join(',')}\n`);
      openssl(['req', ...KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', cert, '-CAkey', caKey, '-set_serial', String(serial++), '-days', '2', '-out', `${base}.crt`, '-extfile', ext]);
      return { cert: `${base}.crt`, key: `${base}.key` };
    },
  };
}

/** A directory holding only `ca.crt`, as skopeo's --src-cert-dir / --dest-cert-dir want it. */
export function certDirTrusting(ca: TestCa): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-proxy-certdir-'));
  execFileSync('cp', [ca.cert, join(dir, 'ca.crt')]);
  return dir;
}
