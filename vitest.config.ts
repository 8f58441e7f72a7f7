import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { REDIS, unrunnable } from './test/support/prerequisites.ts';

const missing = unrunnable(fileURLToPath(new URL('.', import.meta.url)), [REDIS]);

/**
 * Pure modules: no sockets, no processes. Both projects share their workers'
 * module graph (isolate: false): no test file leaves module state, mocks or
 * fake timers behind, and a fresh graph per file cost as much CPU as a short
 * file's tests (docs/decisions/test-wall-time.md).
 */
const PURE = [
  'test/core/**/*.test.ts',
  'test/config/**/*.test.ts',
  'test/diagnose/**/*.test.ts',
  'test/pages/**/*.test.ts',
  'test/app.test.ts',
  'test/routes.test.ts',
  'test/layers.test.ts',
];

export default defineConfig({
  test: {
    exclude: ['test/e2e/**', 'node_modules/**', ...missing],
    // Contract suites start real servers (wrangler dev takes seconds on 2 cores).
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    // Three on two cores: files spend much of their time waiting on their servers (start-ups,
    // deadlines), and a third file keeps the cores busy meanwhile (docs/decisions/test-wall-time.md).
    maxWorkers: 3,
    // vitest queues projects by name: 'servers' first, so the short unit files fill the end of the run.
    projects: [
      { extends: true, test: { name: 'unit', include: PURE, isolate: false } },
      {
        extends: true,
        test: {
          name: 'servers',
          isolate: false,
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'node_modules/**', ...missing, ...PURE],
          // One proxy per (runtime, settings) for files that share one: test/support/shared-proxy.ts.
          globalSetup: ['test/support/node-build.ts', 'test/support/proxy-broker.ts'],
        },
      },
    ],
  },
});
