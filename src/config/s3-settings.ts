// `registry.s3` completed from the environment: what the config names wins, the usual AWS
// variables fill the rest (as the AWS CLI and SDKs read them), and the result is checked once
// here so the registry never meets a half-set bucket at run time. Pure: the environment and the
// secret file's text are inputs.

/** `registry.s3` as the schema accepts it. */
export interface S3Input {
  endpoint?: string;
  region?: string;
  bucket: string;
  prefix: string;
  accessKeyId?: string;
  secretAccessKeyFile?: string;
  forcePathStyle?: boolean;
  redirect: boolean;
  redirectExpiresMs: number;
  redirectEndpoint?: string;
  timeouts: { connectMs: number; responseHeadersMs: number; bodyIdleMs: number };
}

/** What the loader leaves in `registry.s3`: every field set, the secret in place of its file. */
export interface S3Resolved {
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  /** Ends in '/' unless empty. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** us-east-1 is what AWS's SDKs and S3-compatible servers (Ceph, MinIO) assume without one. */
const DEFAULT_S3_REGION = 'us-east-1';

type Env = Record<string, string | undefined>;

function nonEmpty(...values: (string | undefined)[]): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

/** The endpoint's problem, if any: an http(s) origin (the key path is appended to it). */
function endpointProblem(endpoint: string, source: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `${source}: "${endpoint}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${source}: must be an http(s) URL, got "${endpoint}"`;
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') return `${source}: must be http(s)://host[:port] without a path, query or user, got "${endpoint}"`;
  return undefined;
}

/**
 * The settings with credentials, or the problems. `secretText` is what `secretAccessKeyFile`
 * holds (undefined when unset, or unreadable: the loader reported that already).
 */
export function resolveS3Settings(s3: S3Input, env: Env, secretText: string | undefined): { settings?: S3Input & S3Resolved; problems: string[] } {
  const problems: string[] = [];
  const region = nonEmpty(s3.region, env.AWS_REGION, env.AWS_DEFAULT_REGION) ?? DEFAULT_S3_REGION;
  const named = nonEmpty(s3.endpoint, env.AWS_ENDPOINT_URL_S3, env.AWS_ENDPOINT_URL);
  const source = s3.endpoint !== undefined ? 'registry.s3.endpoint' : env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
  const endpointIssue = named === undefined ? undefined : endpointProblem(named, source);
  if (endpointIssue) problems.push(endpointIssue);
  const endpoint = endpointIssue ? '' : new URL(named ?? `https://s3.${region}.amazonaws.com`).origin;
  let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  if (s3.accessKeyId !== undefined || s3.secretAccessKeyFile !== undefined) {
    if (s3.accessKeyId === undefined) problems.push('registry.s3.accessKeyId: required with registry.s3.secretAccessKeyFile');
    else if (s3.secretAccessKeyFile === undefined) problems.push('registry.s3.secretAccessKeyFile: required with registry.s3.accessKeyId');
    else if (secretText !== undefined) {
      const secret = secretText.split(/\r?\n/)[0];
      if (secret === '') problems.push(`registry.s3.secretAccessKeyFile: ${s3.secretAccessKeyFile} holds no secret on its first line`);
      else credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: secret };
    }
  } else if (nonEmpty(env.AWS_ACCESS_KEY_ID) && nonEmpty(env.AWS_SECRET_ACCESS_KEY)) {
    credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) };
  } else {
    problems.push('registry.s3: no credentials: set registry.s3.accessKeyId and registry.s3.secretAccessKeyFile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  if (problems.length > 0 || !credentials) return { problems };
  const prefix = s3.prefix === '' || s3.prefix.endsWith('/') ? s3.prefix : `${s3.prefix}/`;
  const { secretAccessKeyFile: _file, ...rest } = s3;
  const redirectEndpoint = s3.redirectEndpoint === undefined ? undefined : new URL(s3.redirectEndpoint).origin;
  return { settings: { ...rest, endpoint, redirectEndpoint, region, prefix, forcePathStyle: s3.forcePathStyle ?? named !== undefined, ...credentials }, problems };
}
