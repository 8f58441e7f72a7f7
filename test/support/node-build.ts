import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NODE_BUILD, ROOT, runToExit } from './runtimes.ts';

/*
 * vitest globalSetup: builds src/ once for the run, as `npm run build` does
 * but without types or type checks, and names the build in NODE_BUILD for
 * startNode, which then runs it with plain node instead of the sources through
 * tsx: about 0.2 s of CPU a start instead of 1.1 s
 * (docs/decisions/test-wall-time.md).
 */

export default async function setup(): Promise<() => Promise<void>> {
  // Inside the project, where the build's imports of hono, undici ... find node_modules.
  await mkdir(join(ROOT, '.test-build'), { recursive: true });
  const outdir = await mkdtemp(join(ROOT, '.test-build/run-'));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', outdir, '--declaration', 'false', '--noCheck'];
  const built = await runToExit(process.execPath, args, process.env, 120_000);
  if (built.code !== 0) throw new Error(`building src/ failed:\n${built.stdout}${built.stderr}`);
  process.env[NODE_BUILD] = outdir;
  // Interrupted (Ctrl-C), vitest exits without its teardown.
  const removeNow = () => rmSync(outdir, { recursive: true, force: true });
  process.once('exit', removeNow);
  return async () => {
    process.off('exit', removeNow);
    delete process.env[NODE_BUILD];
    await rm(outdir, { recursive: true, force: true });
    // Another run's build may still be there: the folder goes only when empty.
    await rmdir(join(ROOT, '.test-build')).catch(() => {});
  };
}
