// Reads a YAML or JSON file, lays command-line overrides over it, and validates the result once.
// The files the config names (secrets, tokens, passwords) are read here, once: what was validated
// is what the runners use (config/types.ts says where each value goes).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { Ajv } from 'ajv';
import { loadListenerCertificates } from '../net/listener-tls.js';
import { loadUpstreamTls } from '../net/upstream-tls.js';
import { ConfigError } from './config-error.js';
import { formatAjvErrors } from './format-errors.js';
import { adminTokenOf, adminTokenProblems } from './schema/admin.js';
import { configSchema } from './schema/index.js';
import { blobRedirectProblems, routingConfigProblems, secretFileLines, type SecretFileContents } from './schema/routing.js';
import { resolveS3Settings, type S3Resolved } from './s3-settings.js';
import type { Config } from './types.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
ajv.addKeyword({ keyword: 'reason', schemaType: 'string' });
const validateConfig = ajv.compile(configSchema);

export type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge where `over` wins; arrays are replaced, not concatenated. */
export function mergeConfig(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeConfig(out[key] as PlainObject, value) : value;
  }
  return out;
}

/**
 * The YAML parser, loaded on the first YAML file only: it costs about 8 MiB of RSS in every
 * process that loads it, and the embedded replicas read JSON configs.
 */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
}

export function readConfigFile(path: string): PlainObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let parsed: unknown;
  try {
    parsed = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${path}: not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'} (${(err as Error).message.split('\n')[0]})`]);
  }
  if (parsed == null) return {};
  if (!isPlainObject(parsed)) throw new ConfigError([`${path}: the top level must be a mapping`]);
  return parsed;
}

/**
 * Validates (filling defaults into a copy) and returns the typed config, or throws ConfigError.
 * `env` supplies what `registry.s3` leaves out (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
 */
export function validateConfigObject(input: PlainObject, env: Record<string, string | undefined> = process.env): Config {
  const candidate = structuredClone(input);
  if (!validateConfig(candidate)) throw new ConfigError(formatAjvErrors(validateConfig.errors ?? []));
  const config = candidate as Config;
  const problems: string[] = [];
  const files = readNamedFiles(config, problems);
  problems.push(...crossFieldProblems(config, files));
  const s3 = config.registry.s3 && resolveS3Settings(config.registry.s3, env, files.s3Secret);
  if (s3) problems.push(...s3.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return withFileContents(config, files, s3?.settings);
}

/** What the files named by the config hold; undefined where unset or unreadable. */
interface NamedFiles {
  routingSecrets?: SecretFileContents;
  adminToken?: string;
  peerPasswords: (string | undefined)[];
  s3Secret?: string;
}

/** Reads `path` for `key`, or records why it cannot be read. */
function readNamedFile(path: string | undefined, key: string, problems: string[]): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
}

function readNamedFiles(config: Config, problems: string[]): NamedFiles {
  // With an inline secret as well, the config is refused for naming both: the file is not read.
  const secretText = config.routing.secret === undefined ? readNamedFile(config.routing.secretFile, 'routing.secretFile', problems) : undefined;
  const tokenText = readNamedFile(config.admin.tokenFile, 'admin.tokenFile', problems);
  return {
    routingSecrets: secretText === undefined ? undefined : secretFileLines(secretText),
    adminToken: tokenText === undefined ? undefined : adminTokenOf(tokenText),
    peerPasswords: config.replication.peers.map((peer, i) => readNamedFile(peer.passwordFile, `replication.peers[${i}].passwordFile`, problems)),
    s3Secret: readNamedFile(config.registry.s3?.secretAccessKeyFile, 'registry.s3.secretAccessKeyFile', problems),
  };
}

/** Rules a JSON schema states badly: they span several fields. */
function crossFieldProblems(config: Config, files: NamedFiles): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  config.backends.forEach((backend, i) => {
    if (backend.name === undefined) return;
    if (names.has(backend.name)) problems.push(`backends[${i}].name: duplicate backend name "${backend.name}"`);
    names.add(backend.name);
  });
  problems.push(...storageProblems(config));
  // Port 0 asks the kernel for a free port, so two of them never collide.
  if (config.listen === config.adminListen && !config.listen.endsWith(':0')) problems.push('adminListen: must differ from listen');
  problems.push(...routingConfigProblems(config, files.routingSecrets));
  problems.push(...blobRedirectProblems(config));
  if (files.adminToken !== undefined) problems.push(...adminTokenProblems(files.adminToken));
  problems.push(...tlsFileProblems(config));
  return problems;
}

/** One place for the registry's content: a directory or a bucket. */
function storageProblems(config: Config): string[] {
  const { storage, s3 } = config.registry;
  if (storage !== undefined && s3 !== undefined) return ['registry.s3: set either registry.storage (a directory) or registry.s3 (a bucket), not both'];
  if (config.mode !== 'registry') return [];
  if (storage === undefined && s3 === undefined) return ['registry.storage: required in registry mode (--storage DIR, or registry.s3 for a bucket)'];
  return [];
}

/** Every certificate, key and CA file is read now, so a missing or broken one stops start-up with its path. */
function tlsFileProblems(config: Config): string[] {
  const attempts: (() => unknown)[] = [
    ...(config.tls === undefined ? [] : [() => loadListenerCertificates(config.tls!)]),
    ...config.backends.map((b, i) => () => loadUpstreamTls(b.url, b.tls, `backends[${i}]`)),
    ...config.replication.peers.map((p, i) => () => loadUpstreamTls(p.url, p.tls, `replication.peers[${i}]`)),
  ];
  return attempts.flatMap((attempt) => {
    try {
      attempt();
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  });
}

/** The config with each file's content where an inline value would be (see config/types.ts). */
function withFileContents(config: Config, files: NamedFiles, s3: Config['registry']['s3'] & S3Resolved | undefined): Config {
  if (s3) config.registry.s3 = s3;
  if (files.routingSecrets) {
    config.routing.secret = files.routingSecrets.current;
    config.routing.previousSecrets = [...files.routingSecrets.previous, ...config.routing.previousSecrets];
  }
  if (files.adminToken !== undefined) config.admin.token = files.adminToken;
  config.replication.peers.forEach((peer, i) => {
    const text = files.peerPasswords[i];
    // An inline password wins over the file, as it always has.
    if (peer.password === undefined && text !== undefined) peer.password = text.replace(/\r?\n$/, '');
  });
  return config;
}

export function loadConfig(options: { file?: string; overrides?: PlainObject }): Config {
  const fromFile = options.file ? readConfigFile(options.file) : {};
  return validateConfigObject(mergeConfig(fromFile, options.overrides ?? {}));
}
