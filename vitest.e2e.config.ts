import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { CHROMIUM, unrunnable } from './test/support/prerequisites.ts';

const missing = unrunnable(fileURLToPath(new URL('.', import.meta.url)), [CHROMIUM]);

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    exclude: ['node_modules/**', ...missing],
    // Without Chromium every file is left out, which is a pass on a developer's machine.
    passWithNoTests: missing.length > 0,
    // One Chromium and a few proxies per file; files run one after another on small CI machines.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
