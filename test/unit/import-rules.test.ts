import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The import rules of src/README.md, checked by dependency-cruiser (.dependency-cruiser.cjs) over src, workers and
// stacks: file cycles, layers, modules used only through their index.ts, stacks only from src/clouds/terraform.
// Folder cycles are computed below from the same cruise. Each failure names the rule and the import that breaks it.

const root = resolve(import.meta.dirname, '../..');

interface Cruise {
  modules: { source: string; dependencies: { resolved: string; dependencyTypes: string[] }[] }[];
  summary: { violations: { from: string; to: string; rule: { name: string; severity: string }; cycle?: { name: string }[] }[] };
}

function cruise(): Cruise {
  const run = spawnSync(process.execPath, [join(root, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs'), 'src', 'workers', 'stacks',
    '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
  { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0 && !run.stdout) throw new Error(`dependency-cruiser failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Cruise;
}

/** A file's folder; the entry points right under src/ are each a layer of their own (src/README.md), so a node. */
const folderOf = (file: string): string => (dirname(file) === 'src' ? file : dirname(file));

/** Groups of folders (no one inside another) that reach each other through their files' imports: any folder cycle. */
function folderCycles(result: Cruise): string[] {
  const edges = new Map<string, Set<string>>();
  for (const m of result.modules) {
    for (const d of m.dependencies) {
      if (!/^(src|workers|stacks)\//.test(d.resolved)) continue;
      const [a, b] = [folderOf(m.source), folderOf(d.resolved)];
      if (a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)) continue;
      edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
  }
  // Tarjan's strongly connected components: each with more than one folder is a cycle.
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], cycles: string[] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) visit(w);
      if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, low.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1) cycles.push(component.sort().join(' <-> '));
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles.sort();
}

/** `typeof import('./x.ts')` in a type: the swc parser does not report it, so it is not allowed for our own files. */
const INLINE_TYPE_IMPORT = /(?:typeof\s+|[:<|&]\s*)import\(\s*['"]\.[^'"]*['"]\s*\)/;

function sources(): string[] {
  return ['src', 'workers', 'stacks'].flatMap((dir) => readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => relative(root, join(e.parentPath, e.name))));
}

describe('the import rules', () => {
  const result = cruise();

  it('see the whole tree, type-only and dynamic imports included', () => {
    const types = new Set(result.modules.flatMap((m) => m.dependencies.flatMap((d) => d.dependencyTypes)));
    expect(result.modules.length).toBeGreaterThan(200);
    expect(types).toContain('type-only');
    expect(types).toContain('dynamic-import');
  });

  it('are all kept', () => {
    const broken = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(broken).toEqual([]);
  });

  it('leave no import cycle between folders', () => {
    expect(folderCycles(result)).toEqual([]);
  });

  it('see every import: no inline type import of our own files', () => {
    expect(sources().filter((file) => INLINE_TYPE_IMPORT.test(readFileSync(join(root, file), 'utf8')))).toEqual([]);
  });
});
