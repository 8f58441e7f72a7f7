import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { ROOT } from '../support/runtimes.ts';

const run = promisify(execFile);

test('npx wrangler deploy --dry-run bundles the Worker without nodejs_compat or node: imports', {
  timeout: 90_000,
}, async () => {
  const out = await mkdtemp(join(tmpdir(), 'corsway-bundle-'));
  try {
    await run(process.execPath, ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--outdir', out], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    });
    const files = await readdir(out);
    expect(files).toContain('main.js');
    const bundle = await readFile(join(out, 'main.js'), 'utf8');
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:/);
    const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
    expect(toml).not.toMatch(/^[^#]*nodejs_compat/m);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
