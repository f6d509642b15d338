// `registry.s3`: the registry's blobs, manifests and uploads in one S3 bucket (instead of the
// `registry.storage` directory). What the config leaves out comes from the usual AWS environment
// variables (s3-settings.ts resolves them once, in the loader).
import { durationMs, httpUrl, originUrl } from './common.js';

/** SigV4 presigned URLs are valid for at most 7 days. */
const MAX_PRESIGN_MS = 7 * 24 * 3600 * 1000;

export const s3Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['bucket'],
  properties: {
    // `http(s)://host[:port]` of the S3 API; unset: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else
    // AWS's own `https://s3.<region>.amazonaws.com`.
    endpoint: httpUrl,
    // Unset: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 (what S3-compatible servers expect).
    region: { type: 'string', pattern: '^[a-z0-9-]{1,64}$', reason: 'must be a region name such as us-east-1' },
    // S3's bucket naming rules (3-63 characters, lower case, digits, dots and hyphens).
    bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', reason: 'must be an S3 bucket name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit' },
    // Key prefix under which everything lives, so several registries can share a bucket.
    prefix: {
      type: 'string',
      pattern: '^(?!.*(^|/)\\.{1,2}(/|$))([A-Za-z0-9._-]+/?)*$',
      default: '',
      reason: 'must be key path components of A-Z a-z 0-9 . _ - separated by single slashes (no leading slash, no . or ..)',
    },
    // With secretAccessKeyFile; neither: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and
    // AWS_SESSION_TOKEN). The secret is never accepted inline.
    accessKeyId: { type: 'string', minLength: 1 },
    secretAccessKeyFile: { type: 'string', minLength: 1 },
    // Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones
    // (`bucket.endpoint/key`). Unset: path-style when an endpoint is named (S3-compatible servers
    // such as Ceph or MinIO), virtual-hosted on AWS's own endpoint.
    forcePathStyle: { type: 'boolean' },
    // Blob GETs answered with a 307 to a presigned S3 URL (the client downloads from the bucket,
    // not through the registry), as distribution's `redirect` does. HEAD is always answered here.
    redirect: { type: 'boolean', default: false },
    // How long a presigned URL stays valid: only the start of the download must fall within it.
    // 20 minutes, as distribution's S3 driver.
    redirectExpiresMs: { type: 'integer', minimum: 1000, maximum: MAX_PRESIGN_MS, default: 1_200_000 },
    // Where clients reach the same S3 API, when `endpoint` is an address only the registry can
    // reach: presigned URLs name it. SigV4 signs the host, so it must pass the Host header
    // unchanged (a DNS name, a TCP load balancer, an HTTP proxy keeping Host). Unset: `endpoint`.
    redirectEndpoint: originUrl,
    // Every S3 request is bounded, so a frozen or partitioned S3 answers a registry client 503
    // instead of holding it (how: registry/storage/s3-faults.ts). None can be turned off; the
    // floors keep a healthy server's answer possible.
    timeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Connecting within a LAN or region takes milliseconds; 5 s leaves room for two lost
        // SYNs (sent again after 1 s and 3 s).
        connectMs: durationMs(5000, 100),
        // From the request to its response headers, after connectMs (a buffered 8 MiB part is
        // sent within it). S3 answers in milliseconds to a second, so 30 s of silence is a frozen
        // or partitioned server, not a busy one; and 5 + 30 s stays below the 60 s an ha-proxy in
        // front waits for response headers, so its client gets the registry's 503, not the
        // proxy's 504 that would count against a registry that is itself fine.
        responseHeadersMs: durationMs(30_000, 1000),
        // The longest silence within a response body being read.
        bodyIdleMs: durationMs(30_000, 1000),
      },
    },
  },
} as const;
