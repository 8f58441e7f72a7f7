import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { combineReports } from './combine.ts';
import { ROOT } from './processes.ts';

/*
 * `npm run bench:both`: `npm run bench` with its servers on the Node that runs
 * this script (the project's Node 20), then on Node 24 LTS, installed from the
 * npm registry's `node` package into a scratch folder that is removed
 * afterwards (as .ci/node24 does), and one BENCHMARKS.md with both runs. The
 * knobs are npm run bench's; with BENCH_QUICK or BENCH_ONLY the report is
 * printed, not written, unless BENCH_OUT names where.
 */

const env = process.env;
const scratch = mkdtempSync(join(tmpdir(), 'corsway-bench-'));

function run(command: string, args: readonly string[], extra: NodeJS.ProcessEnv): void {
  const ran = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...env, ...extra } });
  if (ran.status !== 0) throw new Error(`bench: ${command} ${args.join(' ')} failed (${ran.status ?? ran.signal})`);
}

try {
  run(
    'npm',
    ['install', '--prefix', scratch, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node@24'],
    {},
  );
  const node24 = join(scratch, 'node_modules', '.bin', 'node');
  const reports = [
    { name: 'node20.md', extra: {} },
    { name: 'node24.md', extra: { BENCH_NODE: node24 } },
  ].map(({ name, extra }) => {
    const out = join(scratch, name);
    run('npm', ['run', 'bench', '--silent'], { ...extra, BENCH_OUT: out });
    return readFileSync(out, 'utf8');
  });
  const combined = combineReports(reports);
  const printOnly = /^(1|true|on|yes)$/i.test(env.BENCH_QUICK ?? '') || Boolean(env.BENCH_ONLY);
  const out = env.BENCH_OUT ?? (printOnly ? null : 'BENCHMARKS.md');
  if (out) {
    writeFileSync(resolve(ROOT, out), combined);
    console.log(`bench: wrote ${out}`);
  } else console.log(combined);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
