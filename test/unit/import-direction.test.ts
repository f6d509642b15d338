// The layer rules of src/, checked on every `npm test`: each part of the code lists the parts it
// may import, so an import that runs the wrong way (storage importing replication or HTTP error
// codes, anything importing the CLI, proxy and registry importing each other) fails here, with
// the file and the rule. README "Layout" says what each part owns.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/processes.js';

const SRC = join(REPO_ROOT, 'src');

/** The foundations: small libraries every layer may use; they import none of the layers. */
const FOUNDATIONS = ['errors', 'net', 'oci', 'observability', 'process'] as const;

/**
 * Part -> the parts it may import besides itself. A part is a folder of src/; registry/* are
 * parts of their own. Nothing lists `cli`: nothing imports the entry point.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  cli: ['config', 'health', 'proxy', 'registry', 'registry/api', 'registry/auth', 'registry/replication', 'registry/storage', 'state', 'supervisor', ...FOUNDATIONS],
  supervisor: ['config', 'proxy', ...FOUNDATIONS],
  config: ['errors', 'net', 'oci'],
  proxy: ['config', 'health', 'state', ...FOUNDATIONS],
  health: ['config', 'errors', 'net', 'oci', 'observability'],
  state: ['config', 'health', ...FOUNDATIONS],
  registry: ['config', 'registry/api', 'registry/auth', 'registry/replication', 'registry/storage', ...FOUNDATIONS],
  'registry/api': ['config', 'registry/auth', 'registry/storage', ...FOUNDATIONS],
  // Replication implements the API's hook interface (api/hooks.ts) and reads storage.
  'registry/replication': ['config', 'registry/api', 'registry/storage', ...FOUNDATIONS],
  'registry/auth': ['errors', 'net', 'observability', 'registry/storage'],
  // Storage knows no HTTP and no replication: files, digests, names.
  'registry/storage': ['oci', 'observability', 'process'],
  // The OCI error envelope carries the protocol's version header (oci/protocol-headers.ts).
  errors: ['oci'],
  net: [],
  oci: [],
  process: [],
  observability: ['net', 'errors'],
};

/**
 * Breaches that exist today and are not fixed yet, each `from-file -> imported-file` (paths under
 * src/). A new breach is never added here; an entry whose import is gone fails below, so the list
 * only shrinks.
 */
const KNOWN_BREACHES = [
  // TLS file loading lives in src/net (the listener and the upstream pools use it) but takes the
  // config's types and reports ConfigError; it moves to config/ with net taking plain options.
  'net/client-server.ts -> config/config-error.ts',
  'net/client-server.ts -> config/types.ts',
  'net/client-server.ts -> observability/logger.ts',
  'net/listener-tls.ts -> config/config-error.ts',
  'net/listener-tls.ts -> config/types.ts',
  'net/upstream-tls.ts -> config/config-error.ts',
  'net/upstream-tls.ts -> config/types.ts',
];

interface Import {
  /** Importing file, relative to src/. */
  from: string;
  /** Imported file, relative to src/ (with .ts). */
  to: string;
}

function partOf(file: string): string {
  const [top, sub, ...rest] = file.split('/');
  return top === 'registry' && rest.length > 0 ? `registry/${sub}` : top;
}

/** The rule each import breaks, as `from -> to: reason`; known breaches are left out. */
function breaches(imports: readonly Import[], rules = MAY_IMPORT, known: readonly string[] = KNOWN_BREACHES): string[] {
  const out: string[] = [];
  for (const { from, to } of imports) {
    const source = partOf(from);
    const target = partOf(to);
    if (source === target || known.includes(`${from} -> ${to}`)) continue;
    const allowed = rules[source];
    if (allowed === undefined) out.push(`${from} -> ${to}: src/${source} is in no layer rule (add it to MAY_IMPORT)`);
    else if (!allowed.includes(target)) out.push(`${from} -> ${to}: src/${source} may not import src/${target}`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of src/ (static, re-export, dynamic `import()`), resolved to files. */
function importsOfSrc(): Import[] {
  const out: Import[] = [];
  for (const path of sourceFiles(SRC)) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const add = (specifier: ts.Expression | undefined): void => {
      if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
      const target = resolve(dirname(path), specifier.text).replace(/\.js$/, '.ts');
      out.push({ from: relative(SRC, path), to: relative(SRC, target) });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
      node.forEachChild(visit);
    };
    visit(file);
  }
  return out;
}

describe('import direction', () => {
  const imports = importsOfSrc();

  it('finds the imports it checks (dynamic ones included)', () => {
    assert.ok(imports.length > 300, `only ${imports.length} imports found under ${SRC}`);
    assert.ok(imports.some((i) => i.from === 'cli/main.ts' && i.to === 'registry/run.ts'), 'the dynamic import of the registry runner');
  });

  it('every import of src/ runs the way the layer rules allow', () => {
    assert.deepEqual(breaches(imports), []);
  });

  it('lists only known breaches that still exist', () => {
    const present = new Set(imports.map((i) => `${i.from} -> ${i.to}`));
    assert.deepEqual(KNOWN_BREACHES.filter((b) => !present.has(b)), [], 'fixed: remove these from KNOWN_BREACHES');
  });

  it('catches imports that run the wrong way', () => {
    const wrong: Import[] = [
      { from: 'registry/storage/blob-store.ts', to: 'registry/replication/replicator.ts' },
      { from: 'registry/storage/paths.ts', to: 'registry/api/app.ts' },
      { from: 'registry/storage/paths.ts', to: 'errors/oci-codes.ts' },
      { from: 'proxy/run.ts', to: 'cli/main.ts' },
      { from: 'registry/run.ts', to: 'proxy/backend.ts' },
      { from: 'proxy/run.ts', to: 'registry/api-server.ts' },
      { from: 'process/signals.ts', to: 'proxy/run.ts' },
      { from: 'newpart/x.ts', to: 'net/listen.ts' },
    ];
    assert.equal(breaches(wrong).length, wrong.length, breaches(wrong).join('\n'));
    assert.deepEqual(breaches([{ from: 'proxy/run.ts', to: 'process/signals.ts' }, { from: 'registry/api/app.ts', to: 'registry/api/blobs.ts' }]), []);
  });
});
