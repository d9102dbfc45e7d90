import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { projectRoot } from '../../server/project-root.js';

/**
 * The import structure of server/: which directories may depend on which, and
 * no import cycles. Read from the sources, so a violation fails here rather
 * than in a review.
 */

interface LayerRule {
  /** Files under this directory (relative to the project root, with a trailing slash)… */
  from: string;
  /** …must not import files under this one. */
  mustNotImport: string;
  why: string;
}

const LAYER_RULES: readonly LayerRule[] = [
  {
    from: 'server/host/',
    mustNotImport: 'server/guest/',
    why: 'host/ holds generic host tools; what goes into images lives in guest/, which may use host/',
  },
  {
    from: 'server/services/',
    mustNotImport: 'server/hypervisor/qemu/',
    why: 'services reach a hypervisor only through the HypervisorDriver interface (server/hypervisor/driver.ts); daemon.ts picks the drivers',
  },
  {
    from: 'server/routes/',
    mustNotImport: 'server/hypervisor/',
    why: 'routes call services; they never drive a hypervisor',
  },
  {
    from: 'server/services/',
    mustNotImport: 'server/http/',
    why: 'services know nothing of HTTP',
  },
  {
    from: 'server/hypervisor/',
    mustNotImport: 'server/services/',
    why: 'drivers know nothing of VM rows, jobs or the services that use them',
  },
];

interface ImportEdge {
  /** Both paths relative to the project root, with forward slashes. */
  from: string;
  to: string;
  specifier: string;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** Specifiers of the file's `import … from` and `export … from` declarations, type-only ones included. */
function importSpecifiers(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifiers.push(statement.moduleSpecifier.text);
    }
  }
  return specifiers;
}

/** The .ts file a relative specifier names (NodeNext: `./x.js` is `./x.ts`), or null for packages and node: modules. */
function resolveSpecifier(fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const target = resolve(dirname(fromFile), specifier);
  const candidates = [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, join(target, 'index.ts')];
  return candidates.find((candidate) => candidate.endsWith('.ts') && existsSync(candidate)) ?? null;
}

function serverImports(root: string): { files: string[]; edges: ImportEdge[] } {
  const absoluteFiles = sourceFiles(join(root, 'server'));
  const edges: ImportEdge[] = [];
  for (const file of absoluteFiles) {
    for (const specifier of importSpecifiers(file)) {
      const target = resolveSpecifier(file, specifier);
      if (target === null) continue;
      edges.push({ from: toPosix(relative(root, file)), to: toPosix(relative(root, target)), specifier });
    }
  }
  return { files: absoluteFiles.map((file) => toPosix(relative(root, file))), edges };
}

interface ImportCycle {
  /** Every file of the strongly connected component, sorted. */
  files: string[];
  /** One way round it, starting and ending at the same file. */
  path: string[];
}

/** The strongly connected components of the import graph (Tarjan), each with a path round it. */
function importCycles(files: readonly string[], edges: readonly ImportEdge[]): ImportCycle[] {
  const next = new Map<string, string[]>(files.map((file) => [file, []]));
  for (const edge of edges) next.get(edge.from)?.push(edge.to);

  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (file: string): void => {
    index.set(file, index.size);
    lowLink.set(file, index.get(file) ?? 0);
    stack.push(file);
    onStack.add(file);
    for (const target of next.get(file) ?? []) {
      if (!index.has(target)) {
        connect(target);
        lowLink.set(file, Math.min(lowLink.get(file) ?? 0, lowLink.get(target) ?? 0));
      } else if (onStack.has(target)) {
        lowLink.set(file, Math.min(lowLink.get(file) ?? 0, index.get(target) ?? 0));
      }
    }
    if (lowLink.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = (next.get(file) ?? []).includes(file);
    if (component.length > 1 || selfImport) components.push(component.sort());
  };
  for (const file of files) if (!index.has(file)) connect(file);

  // Shortest way back to the component's first file, through the component only.
  return components.map((component) => {
    const members = new Set(component);
    const start = component[0] ?? '';
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const file = queue.shift() ?? '';
      for (const target of next.get(file) ?? []) {
        if (!members.has(target)) continue;
        if (target === start) {
          const path = [file];
          while (path[0] !== start) path.unshift(previous.get(path[0] ?? '') ?? start);
          return { files: component, path: [...path, start] };
        }
        if (previous.has(target)) continue;
        previous.set(target, file);
        queue.push(target);
      }
    }
    return { files: component, path: [start, start] };
  });
}

const { files, edges } = serverImports(projectRoot);

t.test('the scan sees the server and its imports', async (t) => {
  t.ok(files.length > 20, `${files.length} files under server/`);
  t.ok(edges.some((edge) => edge.from === 'server/app.ts'), 'app.ts imports other server files');
});

t.test('the cycle finder reports a path through each cycle', async (t) => {
  const edge = (from: string, to: string): ImportEdge => ({ from, to, specifier: to });
  const graph = ['a', 'b', 'c', 'd', 'e'];
  const paths = (list: ImportEdge[]): string[][] => importCycles(graph, list).map((cycle) => cycle.path);
  t.same(paths([edge('a', 'b'), edge('b', 'c'), edge('c', 'd')]), [], 'a chain is no cycle');
  t.same(paths([edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd')]), [['a', 'b', 'c', 'a']]);
  t.same(paths([edge('e', 'e'), edge('b', 'd'), edge('d', 'b')]), [['b', 'd', 'b'], ['e', 'e']]);
  const joined = importCycles(graph, [edge('a', 'b'), edge('b', 'a'), edge('b', 'c'), edge('c', 'b')]);
  t.same(joined.map((cycle) => cycle.files), [['a', 'b', 'c']], 'cycles sharing a file are one component');
});

for (const rule of LAYER_RULES) {
  t.test(`files under ${rule.from} do not import files under ${rule.mustNotImport}`, async (t) => {
    const violations = edges
      .filter((edge) => edge.from.startsWith(rule.from) && edge.to.startsWith(rule.mustNotImport))
      .map((edge) => `${edge.from} imports '${edge.specifier}'`);
    t.same(violations, [], violations.length === 0 ? rule.why : `${rule.why}:\n${violations.join('\n')}`);
  });
}

t.test('no import cycles in server/', async (t) => {
  const cycles = importCycles(files, edges);
  const described = cycles.map((cycle) => `${cycle.path.join(' -> ')} (component: ${cycle.files.join(', ')})`);
  t.same(described, [], described.length === 0 ? 'none' : `import cycles:\n${described.join('\n')}`);
});
