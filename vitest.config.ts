import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { REDIS, unrunnable } from './test/support/prerequisites.ts';

const missing = unrunnable(fileURLToPath(new URL('.', import.meta.url)), [REDIS]);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One proxy per (runtime, settings) for files that share one: test/support/shared-proxy.ts.
    globalSetup: ['test/support/proxy-broker.ts'],
    exclude: ['test/e2e/**', 'node_modules/**', ...missing],
    // Contract suites start real servers (wrangler dev takes seconds on 2 cores).
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
