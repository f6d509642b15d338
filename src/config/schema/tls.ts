// TLS settings: `tls:` on the listener clients connect to (proxy and built-in registry alike),
// and `tls:` on a backend or a replication peer for the connections we make to it.

const pemFile = { type: 'string', minLength: 1 } as const;

/** One certificate with its private key (PEM files; the certificate file may hold the chain). */
export const certificateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: { cert: pemFile, key: pemFile },
} as const;

/**
 * The listener's certificates: `cert`/`key` is the default one (clients that send no SNI, or a
 * name no certificate covers); each of `certificates` serves the names its own certificate lists
 * (subjectAltName DNS entries, wildcards included), so there is no name list to keep in step.
 */
export const listenerTlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cert: pemFile,
    key: pemFile,
    certificates: { type: 'array', items: certificateSchema, default: [] },
    // TLS 1.0 and 1.1 are deprecated (RFC 8996).
    minVersion: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
    // Mutual TLS: clients must present a certificate signed by one of these CAs.
    clientCa: pemFile,
  },
} as const;

/** TLS towards an https:// backend or peer. */
export const upstreamTlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // CAs to trust instead of the system's (a private CA).
    ca: pemFile,
    // The name to send as SNI and to check the certificate against (default: the URL's host).
    servername: { type: 'string', minLength: 1 },
    // Client certificate for backends that require mutual TLS; both or neither.
    cert: pemFile,
    key: pemFile,
    // false accepts any certificate: for tests and trusted networks only.
    verify: { type: 'boolean', default: true },
  },
} as const;
