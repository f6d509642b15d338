// The certificates of a TLS listener: read from the PEM files the `tls:` block names, one secure
// context per certificate, and the choice by SNI. Reading builds everything or throws, so a
// reload with a broken file keeps the certificates in use.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { ConfigError } from '../config/config-error.js';
import type { ListenerTlsConfig } from '../config/types.js';

export interface ServedCertificate {
  /** The leaf certificate, whose subjectAltName decides which server names it serves. */
  readonly x509: X509Certificate;
  readonly options: SecureContextOptions;
  readonly context: SecureContext;
}

export interface ListenerCertificates {
  /** For clients that send no SNI or a name no other certificate covers. */
  readonly fallback: ServedCertificate;
  /** `tls.certificates`, in order: the first that covers the requested name serves it. */
  readonly byName: readonly ServedCertificate[];
}

/** Reads a file the config names, as a config error (`path: cannot read FILE (ENOENT)`) when it cannot be. */
export function readPemFile(path: string, where: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError([`${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
}

function loadCertificate(pair: { cert: string; key: string }, where: string, common: SecureContextOptions): ServedCertificate {
  const options: SecureContextOptions = { ...common, cert: readPemFile(pair.cert, `${where}.cert`), key: readPemFile(pair.key, `${where}.key`) };
  try {
    return { x509: new X509Certificate(options.cert as Buffer), options, context: createSecureContext(options) };
  } catch (err) {
    // OpenSSL's reason: "key values mismatch", "no start line" (not PEM), ...
    throw new ConfigError([`${where}: unusable certificate or key (${(err as Error).message})`]);
  }
}

/** Problems a `tls:` block has beyond its shape: none, one, or both of cert/key; no certificate at all. */
export function listenerTlsProblems(tls: ListenerTlsConfig): string[] {
  if ((tls.cert === undefined) !== (tls.key === undefined)) return [`tls: give both cert and key (--tls-cert and --tls-key), or neither`];
  if (tls.cert === undefined && tls.certificates.length === 0) return ['tls: no certificate: give cert and key, or certificates'];
  return [];
}

/** Reads every certificate, key and CA file of the block; throws ConfigError naming the first that fails. */
export function loadListenerCertificates(tls: ListenerTlsConfig): ListenerCertificates {
  const problems = listenerTlsProblems(tls);
  if (problems.length > 0) throw new ConfigError(problems);
  // The client CA goes into every context: the context SNI picks is the one that verifies.
  const common: SecureContextOptions = {
    minVersion: tls.minVersion,
    ...(tls.clientCa === undefined ? {} : { ca: readPemFile(tls.clientCa, 'tls.clientCa') }),
  };
  const byName = tls.certificates.map((pair, i) => loadCertificate(pair, `tls.certificates[${i}]`, common));
  const fallback = tls.cert !== undefined && tls.key !== undefined ? loadCertificate({ cert: tls.cert, key: tls.key }, 'tls', common) : byName[0];
  return { fallback, byName };
}

/** The certificate for an SNI name: the first of `byName` whose names cover it (RFC 6125 wildcards), else the fallback. */
export function pickCertificate(certificates: ListenerCertificates, servername: string): ServedCertificate {
  return certificates.byName.find((c) => c.x509.checkHost(servername) !== undefined) ?? certificates.fallback;
}

/**
 * Server options for node:tls / node:https / node:http2, reading the certificates through
 * `current()` on every handshake so a reload (the server's setSecureContext plus a new set here)
 * changes what new connections see while open ones keep theirs.
 */
export function listenerTlsOptions(tls: ListenerTlsConfig, current: () => ListenerCertificates): TlsOptions {
  const { fallback } = current();
  return {
    ...fallback.options,
    // Mutual TLS: the handshake fails for a client without a certificate from clientCa.
    requestCert: tls.clientCa !== undefined,
    rejectUnauthorized: tls.clientCa !== undefined,
    SNICallback: (servername, callback) => callback(null, pickCertificate(current(), servername).context),
  };
}
