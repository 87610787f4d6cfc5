import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { PROJECT_ROOT } from './support/cli.js';

const SRC = join(PROJECT_ROOT, 'src');
const COMPONENT_KINDS = ['receivers', 'processors', 'exporters', 'extensions'];
/** Folders beside the components that hold what several components of a kind share; not components. */
const SHARED_FOLDERS = new Set(['processors/shared']);
/** The core contract: what every component and the service share, and nothing else. */
const PIPELINE_FILES = ['auth.ts', 'component-kind.ts', 'component.ts', 'consumer.ts', 'errors.ts', 'fanout.ts', 'host.ts', 'limits.ts', 'model.ts', 'registry.ts', 'room-wait.ts', 'service.ts'];
/** The longest line allowed in source outside test/ (Prettier's printWidth; it does not break strings or comments). */
const MAX_LINE = 120;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The files git tracks under src/ and bench/ that are TypeScript or JavaScript modules, relative to the project root. */
function trackedSourceFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--', 'src', 'bench'], { cwd: PROJECT_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => /\.(ts|tsx|mjs)$/.test(file));
}

/** Each source file (relative to src/) with the source files it imports, type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const imported = ts
      .preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles.map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    graph.set(relative(SRC, file), imported);
  }
  return graph;
}

/** The groups of files that import each other, directly or not (Tarjan's strongly connected components of more than one file). */
function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    order.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (!order.has(dep)) {
        visit(dep);
        low.set(file, Math.min(low.get(file)!, low.get(dep)!));
      } else if (onStack.has(dep)) {
        low.set(file, Math.min(low.get(file)!, order.get(dep)!));
      }
    }
    if (low.get(file) !== order.get(file)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== file);
    if (group.length > 1) cycles.push(group.sort());
  };
  for (const file of graph.keys()) if (!order.has(file)) visit(file);
  return cycles;
}

/** `processors/batch` for a file of the batch processor; undefined for a file outside every component. */
function componentOf(file: string): string | undefined {
  const [kind, name, rest] = file.split('/');
  if (!COMPONENT_KINDS.includes(kind!) || rest === undefined) return undefined;
  const folder = `${kind}/${name}`;
  return SHARED_FOLDERS.has(folder) ? undefined : folder;
}

const graph = importGraph();

t.test('no import cycle in src/', async (t) => {
  t.same(importCycles(graph), [], 'no group of files imports itself');
});

t.test('no component imports another component', async (t) => {
  const crossings: string[] = [];
  for (const [file, imports] of graph) {
    const own = componentOf(file);
    for (const dep of imports) {
      const other = componentOf(dep);
      if (own !== undefined && other !== undefined && other !== own) crossings.push(`${file} → ${dep}`);
    }
  }
  t.same(crossings, [], 'a component uses another only through the contracts in src/pipeline');
});

t.test('src/pipeline/ holds only the core contract', async (t) => {
  t.same(readdirSync(join(SRC, 'pipeline')).sort(), PIPELINE_FILES, 'exporter machinery and single-use helpers live elsewhere');
});

t.test('every component folder has its config and a factory-only index', async (t) => {
  const folders = COMPONENT_KINDS.flatMap((kind) =>
    readdirSync(join(SRC, kind))
      .filter((name) => statSync(join(SRC, kind, name)).isDirectory())
      .map((name) => `${kind}/${name}`)
      .filter((folder) => !SHARED_FOLDERS.has(folder)),
  );
  t.ok(folders.length >= 16, `${folders.length} component folders found`);
  for (const folder of folders) {
    const files = readdirSync(join(SRC, folder));
    t.ok(files.includes('config.ts') && files.includes('index.ts'), `${folder}: config.ts and index.ts`);
    const index = ts.createSourceFile('index.ts', readFileSync(join(SRC, folder, 'index.ts'), 'utf8'), ts.ScriptTarget.Latest);
    const declared = index.statements.filter((s) => ts.isClassDeclaration(s) || ts.isFunctionDeclaration(s)).length;
    t.equal(declared, 0, `${folder}/index.ts declares no class or function: the factory only`);
  }
});

t.test(`every line of src/ and bench/ fits in ${MAX_LINE} characters`, async (t) => {
  const files = trackedSourceFiles();
  t.ok(files.length >= 100, `${files.length} tracked source files found`);
  const long: string[] = [];
  for (const file of files) {
    readFileSync(join(PROJECT_ROOT, file), 'utf8')
      .split(/\r?\n/)
      .forEach((line, i) => {
        const length = [...line].length;
        if (length > MAX_LINE) long.push(`${file}:${i + 1} (${length})`);
      });
  }
  t.same(long, [], long.length ? `lines longer than ${MAX_LINE} characters: ${long.join(', ')}` : 'no line is longer than that');
});
