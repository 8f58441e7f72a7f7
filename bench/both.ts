import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { combineReports, type Run } from './combine.ts';
import { ROOT } from './processes.ts';
import { duration, type RunData } from './report.ts';

/*
 * `npm run bench:both`: `npm run bench` with its servers on the Node that runs
 * this script (the project's Node 20), then on Node 24 LTS, installed from the
 * npm registry's `node` package into a scratch folder that is removed
 * afterwards (as .ci/node24 does), and one BENCHMARKS.md with both runs,
 * Node 24's judged against Node 20's. The knobs are npm run bench's; with
 * BENCH_QUICK or BENCH_ONLY the report is printed, not written, unless
 * BENCH_OUT names where.
 */

const env = process.env;
const started = performance.now();
const scratch = mkdtempSync(join(tmpdir(), 'corsway-bench-'));

/** Runs a command to its end; false when it failed. */
function run(command: string, args: readonly string[], extra: NodeJS.ProcessEnv): boolean {
  const ran = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...env, ...extra } });
  if (ran.status !== 0) console.error(`bench: ${command} ${args.join(' ')} failed (${ran.status ?? ran.signal})`);
  return ran.status === 0;
}

let failed = false;

try {
  const installed = run(
    'npm',
    ['install', '--prefix', scratch, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node@24'],
    {},
  );
  if (!installed) throw new Error('bench: Node 24 could not be installed');
  const node24 = join(scratch, 'node_modules', '.bin', 'node');
  const runs = [
    { name: 'node20', extra: {} },
    // Node 20's corsway and relay run beside Node 24's in its scenario 1, for the target comparing them.
    { name: 'node24', extra: { BENCH_NODE: node24, BENCH_BASE_NODE: process.execPath } },
  ].map(({ name, extra }): Run => {
    const [out, data] = [join(scratch, `${name}.md`), join(scratch, `${name}.json`)];
    // A run whose corsway failed a scenario still writes its report: keep it, and fail at the end.
    if (!run('npm', ['run', 'bench', '--silent'], { ...extra, BENCH_OUT: out, BENCH_DATA: data })) failed = true;
    if (!existsSync(data)) throw new Error(`bench: the ${name} run wrote no report`);
    return { markdown: readFileSync(out, 'utf8'), data: JSON.parse(readFileSync(data, 'utf8')) as RunData };
  });
  const combined = combineReports(runs);
  const printOnly = /^(1|true|on|yes)$/i.test(env.BENCH_QUICK ?? '') || Boolean(env.BENCH_ONLY);
  const out = env.BENCH_OUT ?? (printOnly ? null : 'BENCHMARKS.md');
  if (out) {
    writeFileSync(resolve(ROOT, out), combined);
    console.log(`bench: wrote ${out}`);
  } else console.log(combined);
  console.log(`bench: both runs took ${duration((performance.now() - started) / 1000)}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
