import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ProxyEnv, type RunningProxy, type Runtime, startNode, startWorker } from './runtimes.ts';

/**
 * Starts the proxy with `vars` and `secrets`: on Node both are environment
 * variables; for a Worker the secrets go in an env file, as `wrangler secret put`
 * values would (wrangler dev shows their names only, never their values).
 */
export async function startWithSecrets(runtime: Runtime, vars: ProxyEnv, secrets: ProxyEnv): Promise<RunningProxy> {
  if (runtime === 'node') return startNode({ ...vars, ...secrets });
  const dir = await mkdtemp(join(tmpdir(), 'corsway-secrets-'));
  const file = join(dir, '.dev.vars');
  // Single quotes: the values are JSON, taken literally.
  await writeFile(
    file,
    Object.entries(secrets)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(''),
  );
  try {
    return await startWorker(vars, ['--env-file', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
