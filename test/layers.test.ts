import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT } from './support/runtimes.ts';

/*
 * The import graph of src/ shows the layers: the runtime-neutral core imports
 * neither Node nor an adapter (Biome's noRestrictedImports says so per line;
 * this also sees dynamic imports), and no module reaches itself again at run
 * time (a circle made only of `import type` is erased by the compiler).
 */

const SRC = join(ROOT, 'src');

/** Runs on Node and on Workers: web APIs only. */
const CORE = ['core/', 'config/', 'diagnose/', 'pages/', 'observe/', 'cache/', 'app.ts', 'routes.ts', 'index.ts'];
const ADAPTERS = ['node/', 'worker/'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|cjs)$/.test(entry.name) ? [path] : [];
  });
}

/** Every module `file` imports: static, re-exported, dynamic, required; `typeOnly` for `import type`, which vanishes at run time. */
function imports(file: string): { specifier: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\b(?:import|require)\(\s*()['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => ({ specifier: m[2] as string, typeOnly: Boolean(m[1]) }));
}

/** src-relative path of a relative specifier, else the specifier itself (a package or node:*). */
function target(from: string, specifier: string): string {
  return specifier.startsWith('.') ? relative(SRC, resolve(dirname(from), specifier)) : specifier;
}

const edges = sources(SRC).map(
  (file) =>
    [relative(SRC, file), imports(file).map((i) => ({ to: target(file, i.specifier), typeOnly: i.typeOnly }))] as const,
);
/** Every import, types included: the core may not even name an adapter's types. */
const graph = new Map(edges.map(([path, list]) => [path, list.map((e) => e.to)] as const));
/** Imports that exist at run time. */
const runtimeGraph = new Map(
  edges.map(([path, list]) => [path, list.filter((e) => !e.typeOnly).map((e) => e.to)] as const),
);
const inLayer = (path: string, layer: readonly string[]) => layer.some((prefix) => path.startsWith(prefix));

describe('the import graph of src/', () => {
  test('it is read: the core and both adapters are there, with their imports', () => {
    expect(graph.get('node/main.ts')).toContain('config/config.ts');
    expect(graph.get('node/main.ts')).toContain('node/server.ts');
    expect([...graph.keys()].filter((path) => inLayer(path, CORE)).length).toBeGreaterThan(10);
    expect([...graph.keys()].filter((path) => inLayer(path, ADAPTERS)).length).toBeGreaterThan(3);
  });

  test('the core imports no node:* module, no Node-only package and no adapter', () => {
    const offending = [...graph]
      .filter(([path]) => inLayer(path, CORE))
      .flatMap(([path, targets]) =>
        targets
          .filter(
            (to) =>
              to.startsWith('node:') || to === 'undici' || to.startsWith('@hono/node-server') || inLayer(to, ADAPTERS),
          )
          .map((to) => `${path} -> ${to}`),
      );
    expect(offending).toEqual([]);
  });

  test('no import circles at run time', () => {
    const circles: string[] = [];
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (node: string): void => {
      const at = path.indexOf(node);
      if (at >= 0) {
        circles.push([...path.slice(at), node].join(' -> '));
        return;
      }
      if (done.has(node) || !runtimeGraph.has(node)) return;
      path.push(node);
      for (const to of runtimeGraph.get(node) ?? []) visit(to);
      path.pop();
      done.add(node);
    };
    for (const node of runtimeGraph.keys()) visit(node);
    expect(circles).toEqual([]);
  });
});

describe('no import circles in src/, types included', () => {
  test('following any import, `import type` too, never leads back to the module', () => {
    const circles: string[] = [];
    const done = new Set<string>();
    const visit = (path: string, trail: string[]) => {
      const at = trail.indexOf(path);
      if (at !== -1) {
        circles.push([...trail.slice(at), path].join(' -> '));
        return;
      }
      if (done.has(path) || !graph.has(path)) return;
      for (const to of graph.get(path) ?? []) visit(to, [...trail, path]);
      done.add(path);
    };
    for (const path of graph.keys()) visit(path, []);
    expect(circles).toEqual([]);
  });
});
