// Reads a YAML or JSON file, lays command-line overrides over it, and validates the result once.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { loadListenerCertificates } from '../net/listener-tls.js';
import { loadUpstreamTls } from '../net/upstream-tls.js';
import { ConfigError } from './config-error.js';
import { formatAjvErrors } from './format-errors.js';
import { adminConfigProblems } from './schema/admin.js';
import { configSchema } from './schema/index.js';
import { routingConfigProblems } from './schema/routing.js';
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

/** Validates (filling defaults into a copy) and returns the typed config, or throws ConfigError. */
export function validateConfigObject(input: PlainObject): Config {
  const candidate = structuredClone(input);
  if (!validateConfig(candidate)) throw new ConfigError(formatAjvErrors(validateConfig.errors ?? []));
  const problems = crossFieldProblems(candidate as Config);
  if (problems.length > 0) throw new ConfigError(problems);
  return candidate as Config;
}

/** Rules a JSON schema states badly: they span several fields. */
function crossFieldProblems(config: Config): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  config.backends.forEach((backend, i) => {
    if (backend.name === undefined) return;
    if (names.has(backend.name)) problems.push(`backends[${i}].name: duplicate backend name "${backend.name}"`);
    names.add(backend.name);
  });
  if (config.mode === 'registry' && config.registry.storage === undefined) {
    problems.push('registry.storage: required in registry mode (--storage DIR)');
  }
  // Port 0 asks the kernel for a free port, so two of them never collide.
  if (config.listen === config.adminListen && !config.listen.endsWith(':0')) problems.push('adminListen: must differ from listen');
  problems.push(...routingConfigProblems(config));
  problems.push(...adminConfigProblems(config.admin));
  config.replication.peers.forEach((peer, i) => {
    if (peer.passwordFile === undefined) return;
    try {
      readFileSync(peer.passwordFile, 'utf8');
    } catch (err) {
      problems.push(`replication.peers[${i}].passwordFile: cannot read ${peer.passwordFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  });
  problems.push(...tlsFileProblems(config));
  return problems;
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

export function loadConfig(options: { file?: string; overrides?: PlainObject }): Config {
  const fromFile = options.file ? readConfigFile(options.file) : {};
  return validateConfigObject(mergeConfig(fromFile, options.overrides ?? {}));
}
