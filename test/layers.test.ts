import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT } from './support/runtimes.ts';

/*
 * The import graph of src/ shows the layers: the runtime-neutral core imports
 * neither Node nor an adapter (Biome's noRestrictedImports says so per line;
 * this also sees dynamic imports).
 */

const SRC = join(ROOT, 'src');

/** Runs on Node and on Workers: web APIs only. */
const CORE = ['core/', 'config/', 'diagnose/', 'pages/', 'observe/', 'cache/', 'app.ts', 'routes.ts', 'index.ts'];
const ADAPTERS = ['node/', 'worker/'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module `file` imports: static, re-exported, dynamic, and types too (a circle of types is a circle of design). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [
    ...text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => m[1] as string);
}

/** src-relative path of a relative specifier, else the specifier itself (a package or node:*). */
function target(from: string, specifier: string): string {
  return specifier.startsWith('.') ? relative(SRC, resolve(dirname(from), specifier)) : specifier;
}

const graph = new Map(
  sources(SRC).map((file) => [relative(SRC, file), imports(file).map((spec) => target(file, spec))] as const),
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
});
