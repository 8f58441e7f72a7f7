#!/usr/bin/env node
// `npx corsway` from the package runs the build; `npx .` in a clone runs the sources, so it is never a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../src/node/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/node/cli.js');
}
