import { availableParallelism } from 'node:os';
import { OTHER_LOAD_SHARE } from './rounds.ts';

/*
 * `npm run bench`'s knobs: one table that both reads the environment and
 * writes the "Knobs" text of BENCHMARKS.md, so the two cannot disagree.
 */

export interface Settings {
  readonly quick: boolean;
  readonly seconds: number;
  /** Runs of each scenario per server, taken in turn; the median is reported. */
  readonly rounds: number;
  /** Percent of the machine's CPU time other processes may use during a run of a kept round. */
  readonly otherLoadPercent: number;
  readonly connections: number;
  readonly downloadBytes: number;
  readonly idleClients: number;
  /** Starts of the built CLI whose idle RSS is measured; the median is judged. */
  readonly idleStarts: number;
  readonly worker: boolean;
  /** CORSWAY_WORKERS of the extra corsway row; below 2, no such row. */
  readonly nodeWorkers: number;
  readonly only: ReadonlySet<number> | null;
  /** How corsway reached the loopback upstream: with its guard on, or with private targets allowed. */
  guard: 'namespace' | 'allow-private';
  workerNote?: string;
}

type NumericSetting =
  | 'seconds'
  | 'rounds'
  | 'otherLoadPercent'
  | 'connections'
  | 'downloadBytes'
  | 'idleClients'
  | 'idleStarts';

interface NumericKnob {
  readonly name: string;
  readonly setting: NumericSetting;
  /** The default, and the one under BENCH_QUICK=1. */
  readonly full: number;
  readonly quick: number;
  /** Knob value to setting (MiB to bytes). @default the value itself */
  readonly scale?: number;
  readonly text: string;
}

/** The numeric knobs, in the order the Knobs text lists them. */
export const NUMERIC_KNOBS: readonly NumericKnob[] = [
  {
    name: 'BENCH_DURATION',
    setting: 'seconds',
    full: 5,
    quick: 3,
    text: 'seconds of load per server and round (corsway and the relay in one-second slices)',
  },
  {
    name: 'BENCH_ROUNDS',
    setting: 'rounds',
    full: 5,
    quick: 1,
    text: 'rounds of every scenario, every server once per round in turn',
  },
  {
    name: 'BENCH_OTHER_LOAD',
    setting: 'otherLoadPercent',
    full: OTHER_LOAD_SHARE * 100,
    quick: OTHER_LOAD_SHARE * 100,
    text: "percent of the machine's CPU time other processes may use during a run of a kept round; 100 turns this check off",
  },
  { name: 'BENCH_CONNECTIONS', setting: 'connections', full: 50, quick: 50, text: "wrk's connections" },
  {
    name: 'BENCH_DOWNLOAD_MB',
    setting: 'downloadBytes',
    full: 1024,
    quick: 128,
    scale: 1024 * 1024,
    text: "scenario 7's download, MiB",
  },
  {
    name: 'BENCH_IDLE_CLIENTS',
    setting: 'idleClients',
    full: 1000,
    quick: 1000,
    text: "scenario 8's idle keep-alive clients",
  },
  {
    name: 'BENCH_IDLE_STARTS',
    setting: 'idleStarts',
    full: 3,
    quick: 1,
    text: 'starts of the built CLI whose idle RSS is measured',
  },
];

const ON = /^(1|true|on|yes)$/i;
const OFF = /^(0|false|off|no)$/i;

/** A knob's number, or its default when unset; throws when it is not a positive number. */
function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 1)
    throw new Error(`bench: ${name} must be a positive number, got "${env[name]}"`);
  return value;
}

/** The settings of a run from its environment; throws on a knob that is not a positive number. */
export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const quick = ON.test(env.BENCH_QUICK ?? '');
  const numbers = {} as Record<NumericSetting, number>;
  for (const knob of NUMERIC_KNOBS) {
    numbers[knob.setting] = positive(env, knob.name, quick ? knob.quick : knob.full) * (knob.scale ?? 1);
  }
  const nodeWorkers = positive(env, 'BENCH_NODE_WORKERS', availableParallelism());
  return {
    quick,
    ...numbers,
    worker: !OFF.test(env.BENCH_WORKER ?? ''),
    nodeWorkers,
    only: env.BENCH_ONLY ? new Set(env.BENCH_ONLY.split(',').map(Number)) : null,
    guard: 'namespace',
  };
}

/** The Knobs paragraph of BENCHMARKS.md, its defaults read from the table above. */
export function knobsText(): string {
  const numeric = NUMERIC_KNOBS.map(
    (k) => `\`${k.name}\` (${k.text}, default ${k.full}${k.quick !== k.full ? `, ${k.quick} with BENCH_QUICK` : ''})`,
  );
  return `Environment variables of \`npm run bench\` (and \`npm run bench:both\`): \`BENCH_QUICK=1\` (shorter runs, one
round, prints only), ${numeric.join(', ')}, \`BENCH_ONLY=1,7\` (some scenarios, prints only),
\`BENCH_WORKER=off\` (skip wrangler dev), \`BENCH_NODE_WORKERS\` (\`CORSWAY_WORKERS\` of the
extra corsway row, default the number of cores; 1 drops the row), \`BENCH_NAMESPACE=off\` (no network
namespace: corsway then runs with private targets allowed), \`BENCH_NODE\` (the node binary the
servers run on, default the one running the bench), \`BENCH_BASE_NODE\` (another node binary:
scenario 1 also runs corsway and the relay on it, beside the others; \`bench:both\` sets it
to its first run's node), \`BENCH_OUT\` (where to write this file).
\`GLIBC_TUNABLES\`, \`MALLOC_*\` and \`NODE_OPTIONS\`, when set, reach every
server the run starts (and its download client) and are shown in the command above. wrk
must be installed (Debian/Ubuntu: \`apt-get install wrk\`).`;
}
