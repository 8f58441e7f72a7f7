import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Runtime } from '../test/support/runtimes.ts';
import type { Check } from './faults.ts';
import { printChecks, soak } from './run.ts';

/*
 * `npm run soak`: hours of mixed traffic compressed into minutes, with faults,
 * against the Node proxy (2 workers, Redis budgets) and then the Worker in
 * local workerd; prints its figures and `N passed, M failed`, exit 1 on a failure.
 */

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'worker-seconds': { type: 'string' },
    runtime: { type: 'string', default: 'both' },
    concurrency: { type: 'string', default: '12' },
    'no-netns': { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
    passthrough: { type: 'string' },
    'no-budgets': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
// The Worker run is the shorter one: half the Node run, at least 60 s (its memory is judged on its second half).
const workerSeconds = Number(values['worker-seconds'] ?? Math.max(60, Math.round(seconds / 2)));
const concurrency = Number(values.concurrency);
if (
  ![seconds, workerSeconds, concurrency].every((n) => Number.isInteger(n) && n > 0) ||
  !['node', 'worker', 'both'].includes(values.runtime) ||
  (values.passthrough !== undefined &&
    (values.runtime !== 'worker' || !['bare', 'budgets'].includes(values.passthrough)))
) {
  console.error(
    'usage: npm run soak -- [--seconds 600] [--worker-seconds N] [--runtime node|worker|both] [--concurrency 12] [--no-netns] [--only clean,fault,json,...] [--passthrough bare|budgets] [--no-budgets]',
  );
  process.exit(2);
}

const IN_NETNS = 'SOAK_IN_NETNS';

/** Runs this script again inside its own user and network namespace (loopback only); its exit code is ours. */
function inNetns(): boolean {
  if (values['no-netns'] || process.env[IN_NETNS]) return false;
  if (spawnSync('unshare', ['-rn', 'true'], { timeout: 5_000 }).status !== 0) {
    console.log(
      "unshare -rn is not available here: running on the machine's network, the failing-DNS scenario skipped",
    );
    return false;
  }
  const child = spawn(
    'unshare',
    [
      '-rn',
      'sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'sh',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, [IN_NETNS]: '1' } },
  );
  // Ctrl-C reaches the child too (same process group): wait for it to clean up.
  process.on('SIGINT', () => {});
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
  return true;
}

async function main(): Promise<void> {
  const cleanups = new Set<() => Promise<void>>();
  const abort = async () => {
    console.error('\ninterrupted: stopping every process the soak started');
    await Promise.allSettled([...cleanups].map((c) => c()));
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const onAbort = (cleanup: () => Promise<void>) => {
    cleanups.add(cleanup);
    return () => cleanups.delete(cleanup);
  };

  const netns = Boolean(process.env[IN_NETNS]);
  const redis = spawnSync('redis-server', ['--version'], { timeout: 5_000 }).status === 0;
  if (!redis)
    console.log(
      'redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server) to include the Redis faults; SKIPPED',
    );
  const runtimes: Runtime[] = values.runtime === 'both' ? ['node', 'worker'] : [values.runtime as Runtime];
  let passed = 0;
  let failed = 0;
  for (const runtime of runtimes) {
    let checks: Check[];
    try {
      checks = await soak({
        runtime,
        seconds: runtime === 'node' ? seconds : workerSeconds,
        concurrency,
        netns,
        redis,
        only: values.only.split(',').filter(Boolean),
        passthrough: (values.passthrough as 'bare' | 'budgets' | undefined) ?? null,
        noBudgets: values['no-budgets'],
        onAbort,
      });
    } catch (error) {
      checks = [
        { name: `${runtime} soak ran to its end`, passed: false, detail: (error as Error).stack ?? String(error) },
      ];
    }
    const result = printChecks(`${runtime}: pass criteria`, checks);
    passed += result.passed;
    failed += result.failed;
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

if (!inNetns()) await main();
