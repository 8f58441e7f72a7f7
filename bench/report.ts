import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem, type } from 'node:os';
import { RELAY_OUTLIER_RULE } from './rounds.ts';

/*
 * Turns measured rows into the console table and BENCHMARKS.md, and checks
 * them against the targets of the performance issue.
 */

export interface Settings {
  readonly quick: boolean;
  readonly seconds: number;
  /** Runs of each wrk scenario per server, taken in turn; the median is reported. */
  readonly rounds: number;
  readonly connections: number;
  readonly downloadBytes: number;
  readonly idleClients: number;
  readonly worker: boolean;
  /** CORSWAY_WORKERS of the extra corsway row; below 2, no such row. */
  readonly nodeWorkers: number;
  readonly only: ReadonlySet<number> | null;
  /** How corsway reached the loopback upstream: with its guard on, or with private targets allowed. */
  guard: 'namespace' | 'allow-private';
  workerNote?: string;
}

export interface Row {
  readonly scenario: number;
  readonly title: string;
  readonly server: string;
  /**
   * `corsway-workers`: corsway on Node with CORSWAY_WORKERS. `floor`: a bare
   * undici pass-through with no policy, the least a Node proxy can cost.
   */
  readonly role: 'direct' | 'corsway' | 'corsway-workers' | 'corsway-cache' | 'cors-anywhere' | 'worker' | 'floor';
  rps?: number;
  /** Latency percentiles, ms. */
  p50?: number;
  p99?: number;
  /** Scenario 7: download throughput, 10^6 bytes per second. */
  mbps?: number;
  /** CPU time of the server process per request during the measured run, microseconds. */
  cpuPerRequest?: number;
  /** Peak resident memory of the server process during the scenario, bytes. */
  peakRss?: number;
  notes: string[];
  failed?: string;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
  readonly wrk: string;
  readonly load: string;
  readonly date: string;
}

export function machine(wrk: string, node: string): Machine {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {}
  return {
    cpu,
    cores: availableParallelism(),
    memory: `${Math.round(totalmem() / 1024 ** 3)} GiB`,
    os: `${type()} ${release()}`,
    node,
    wrk,
    load: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const throughput = (r: Row): number | undefined => r.rps ?? r.mbps;

export function fmt(n: number | undefined, digits = 0): string {
  return n === undefined
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ms(n: number | undefined): string {
  if (n === undefined) return '—';
  return n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`;
}

function ratio(a: number | undefined, b: number | undefined, digits = 2): string {
  return a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(digits)}×`;
}

/** A ratio judged against a target, to 3 decimals: a 0.397 that misses 0.4 must not read "0.40". */
const judged = (a: number, b: number) => ratio(a, b, 3);

function peer(rows: readonly Row[], row: Row, role: Row['role']): Row | undefined {
  return rows.find((r) => r.scenario === row.scenario && r.role === role && !r.failed);
}

function table(rows: readonly Row[]): string {
  const lines = [
    '| # | scenario | server | throughput | p50 | p99 | vs direct | vs cors-anywhere | CPU/req | peak RSS | notes |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of rows) {
    const t = throughput(r);
    const unit = r.mbps !== undefined ? 'MB/s' : 'req/s';
    const direct = peer(rows, r, 'direct');
    const ca = peer(rows, r, 'cors-anywhere');
    lines.push(
      `| ${r.scenario} | ${r.title} | ${r.server} | ${r.failed ? 'failed' : `${fmt(t)} ${unit}`} | ${ms(r.p50)} | ${ms(r.p99)} | ${
        r.role === 'direct' ? '' : ratio(t, direct && throughput(direct))
      } | ${r.role === 'direct' || r.role === 'cors-anywhere' ? '' : ratio(t, ca && throughput(ca))} | ${
        r.cpuPerRequest === undefined ? '' : `${fmt(r.cpuPerRequest)} µs`
      } | ${
        r.peakRss === undefined ? '' : `${fmt(r.peakRss / 1e6)} MB`
      } | ${[r.failed, ...r.notes, floorNote(rows, r)].filter(Boolean).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

/** For corsway's rows: their throughput as a share of the bare pass-through's. */
function floorNote(rows: readonly Row[], row: Row): string | undefined {
  if (row.role !== 'corsway' && row.role !== 'corsway-workers') return undefined;
  const floor = peer(rows, row, 'floor');
  const t = throughput(row);
  const f = floor && throughput(floor);
  return t && f ? `${ratio(t, f)} the bare pass-through` : undefined;
}

/** The issue's targets for corsway on Node, judged from one run's rows. */
export function verdicts(rows: readonly Row[]): { text: string } {
  const find = (scenario: number, role: Row['role']) =>
    rows.find((r) => r.scenario === scenario && r.role === role && !r.failed);
  const out: string[] = [];
  const judge = (label: string, met: boolean | null, detail: string) =>
    out.push(`- ${met === null ? 'not measured' : met ? 'met' : '**missed**'}: ${label} (${detail})`);

  const [a1, d1, f1] = [find(1, 'cors-anywhere'), find(1, 'direct'), find(1, 'floor')];
  const floor1 = f1?.rps && d1?.rps ? `; the bare pass-through: ${judged(f1.rps, d1.rps)}` : '';
  for (const role of ['corsway', 'corsway-workers'] as const) {
    const c1 = find(1, role);
    if (role === 'corsway-workers' && !rows.some((r) => r.role === role)) continue;
    const who = role === 'corsway' ? 'scenario 1' : `scenario 1 with ${c1?.server ?? 'workers'}`;
    if (c1?.rps && a1?.rps && d1?.rps && c1.p99 !== undefined && a1.p99 !== undefined) {
      judge(`${who}, at least 4× cors-anywhere req/s`, c1.rps >= 4 * a1.rps, judged(c1.rps, a1.rps));
      judge(`${who}, at least 0.4× direct req/s`, c1.rps >= 0.4 * d1.rps, `${judged(c1.rps, d1.rps)}${floor1}`);
      judge(`${who}, p99 no worse than cors-anywhere`, c1.p99 <= a1.p99, `${ms(c1.p99)} vs ${ms(a1.p99)}`);
    } else judge(who, null, 'not run');
  }

  const [c7, d7, f7] = [find(7, 'corsway'), find(7, 'direct'), find(7, 'floor')];
  if (c7?.mbps && d7?.mbps) {
    judge(
      'scenario 7, at least 0.7× direct throughput',
      c7.mbps >= 0.7 * d7.mbps,
      `${judged(c7.mbps, d7.mbps)}${f7?.mbps ? `; the bare pass-through: ${judged(f7.mbps, d7.mbps)}` : ''}`,
    );
    judge(
      'scenario 7, proxy RSS under 100 MB',
      c7.peakRss !== undefined && c7.peakRss < 100e6,
      `peak ${fmt((c7.peakRss ?? 0) / 1e6)} MB${f7?.peakRss ? `; the bare pass-through: ${fmt(f7.peakRss / 1e6)} MB` : ''}`,
    );
  } else judge('scenario 7', null, 'not run');

  const c4 = rows.find((r) => r.scenario === 4 && r.role === 'corsway');
  judge(
    'scenario 4, gzip passes through untouched',
    c4 ? !c4.failed : null,
    c4 ? (c4.failed ?? 'same Content-Encoding and bytes as the upstream sent') : 'not run',
  );

  const corsway = (r: Row) => r.role === 'corsway' || r.role === 'corsway-workers';
  const slower = rows
    .filter(corsway)
    .filter((r) => {
      const ca = find(r.scenario, 'cors-anywhere');
      return r.failed || (ca && (throughput(r) ?? 0) < (throughput(ca) ?? 0));
    })
    .map((r) => (r.role === 'corsway' ? `${r.scenario}` : `${r.scenario} (${r.server})`));
  judge(
    'no scenario slower than cors-anywhere',
    rows.some(corsway) ? slower.length === 0 : null,
    slower.length ? `slower in ${slower.join(', ')}` : 'every scenario',
  );
  return { text: `Targets (corsway on Node):\n${out.join('\n')}` };
}

/** The bench's knobs, and what else in the environment changes every Node server's speed. */
const RUNTIME_ENV = new Set(['NODE_OPTIONS', 'GLIBC_TUNABLES']);
/** Knobs that name a path of the machine that ran the bench: the report says which Node, not where. */
const LOCAL_KNOBS = new Set(['BENCH_NODE', 'BENCH_OUT']);

function command(): string {
  const knobs = Object.entries(process.env)
    .filter(([k]) => (k.startsWith('BENCH_') && !LOCAL_KNOBS.has(k)) || RUNTIME_ENV.has(k) || k.startsWith('MALLOC_'))
    .map(([k, v]) => `${k}=${v}`);
  return [...knobs, 'npm run bench'].join(' ');
}

export function render(rows: readonly Row[], s: Settings, m: Machine): { table: string; markdown: string } {
  const t = table(rows);
  const guard =
    s.guard === 'namespace'
      ? `corsway runs with production settings: \`CORSWAY_ALLOW_PRIVATE_NETWORK\` off, so its connect-time address guard checks every upstream connection. The benchmark reaches the upstream legitimately by running inside a network namespace of its own (\`unshare -rn\`), whose only interface is loopback, with the upstream bound to a public-range address on it; no packet can leave the namespace.`
      : `**The guard was off in this run**: \`unshare -rn\` was not available, so corsway ran with \`CORSWAY_ALLOW_PRIVATE_NETWORK=on\` to reach the loopback upstream, and its connect-time address guard did not run.`;
  const markdown = `# Benchmarks

What corsway adds to calling a target directly, compared with
[cors-anywhere](https://github.com/Rob--W/cors-anywhere) 0.4.4. Generated by
\`npm run bench\` (\`bench/run.ts\`) on ${m.date}; run it again to reproduce.

## Command

\`\`\`sh
${command()}
\`\`\`

## Machine

- CPU: ${m.cpu}, ${m.cores} cores
- Memory: ${m.memory}
- OS: ${m.os}
- Node ${m.node}, wrk ${m.wrk}
- Load average when the run started: ${m.load}

Load generator, upstream and proxy share these cores, so absolute figures
depend on the machine; the ratios within one run are what to compare.

## Results

${t}

${verdicts(rows).text}

## What was measured

- **direct**: a keep-alive \`node:http\` server (\`bench/upstream.ts\`) answering
  from memory. **corsway (Node)**: the built package (\`npm run build\`, then
  \`dist/cli.js\`, as \`npx corsway\` runs it), request logging off, one process.${
    s.nodeWorkers > 1
      ? ` **corsway (Node, ${s.nodeWorkers} workers)**: the same with \`CORSWAY_WORKERS=${s.nodeWorkers}\` (one per core here), in the scenarios without a rate limit (one across workers needs Redis).`
      : ''
  } **cors-anywhere**: 0.4.4 configured as its README recommends
  (\`removeHeaders: ['cookie', 'cookie2']\`, \`requireHeader: ['origin', 'x-requested-with']\`);
  it answers \`Connection: close\`, so each of its requests pays a new connection.
  **bare pass-through (floor)**: \`bench/passthrough.mjs\`, node:http in and undici's
  dispatcher out as in corsway's Node path, the body relayed with backpressure and
  \`Access-Control-Allow-Origin\` added, and nothing else (no target rules, address
  guard, header policy or SPEC headers): what such a proxy costs before any of its
  work. corsway's rows note their share of it. It forwards preflights rather than
  answering them, so it sits out scenario 5, and scenario 6 too.
  ${s.worker ? `**corsway (wrangler dev)**: the Worker in local workerd, where it started${s.workerNote ? ` (${s.workerNote})` : ''}; wrangler dev is a development server, not Cloudflare's edge.` : 'corsway in wrangler dev was not measured in this run.'}
- ${guard}
- Every request carries an \`Origin\` header, as a browser's would.
- wrk: ${Math.min(2, s.connections)} threads, ${s.connections} connections, ${s.seconds} s per run after a
  warm-up run, 10 s request timeout. Scenarios 1-6 run in ${s.rounds} round${s.rounds > 1 ? 's' : ''}, every server once
  per round in turn, and each row shows the server's median round, so a burst of other
  load on a shared machine cannot land on all runs of one server; the notes give the
  spread (lowest–highest) of the rounds beside that median. In scenarios 1-7, ${RELAY_OUTLIER_RULE}
  (at most as many times as there are rounds). Throughput is
  requests per second; p50/p99 are wrk's latency percentiles.
- Before each run, one exchange checks the answer (status, body bytes, CORS
  headers; for scenario 4 that \`Content-Encoding: gzip\` and the exact compressed
  bytes arrive).
- Scenario 6: corsway with \`CORSWAY_RATE_LIMIT=1000000000/1h\`, cors-anywhere with
  its own rate limiter (\`1000000000 60\`): budgets never run out, the bookkeeping is paid.
- CPU/req: CPU time (user + system) the server's processes used during the measured
  runs, divided by the requests answered; less sensitive to other load on the
  machine than req/s. For corsway and cors-anywhere it excludes the upstream.
  Peak RSS too covers every process of a server (with workers, the sum of each
  one's peak).
- Scenario 7: one \`node:http\` client downloads ${s.downloadBytes / 1024 / 1024} MiB and discards it,
  in ${s.rounds} round${s.rounds > 1 ? 's' : ''} of one download per server in turn; the row shows the median
  download. MB/s is 10^6 bytes per second. Peak RSS is the highest of the rounds:
  the proxy process's VmHWM (reset before each download) or, where the kernel
  refuses the reset, the highest VmRSS sampled every 50 ms.
- Scenario 8: ${s.idleClients} keep-alive connections each complete one request and stay
  open and idle while wrk runs for ${Math.min(s.seconds, 4)} s (inside Node's default 5 s keep-alive
  timeout). Notes count the idle connections still open before and after the load;
  peak RSS covers opening them and the load.
- Everything runs on one machine over loopback; nothing else is contacted.

## Knobs

Environment variables of \`npm run bench\`: \`BENCH_QUICK=1\` (3 s runs, 128 MiB
download, one round, prints only), \`BENCH_DURATION\` (seconds per run, default 5),
\`BENCH_ROUNDS\` (runs of scenarios 1-6 per server, default 3),
\`BENCH_CONNECTIONS\` (default 50), \`BENCH_DOWNLOAD_MB\` (default 1024),
\`BENCH_IDLE_CLIENTS\` (default 1000), \`BENCH_ONLY=1,7\` (some scenarios, prints only),
\`BENCH_WORKER=off\` (skip wrangler dev), \`BENCH_NODE_WORKERS\` (\`CORSWAY_WORKERS\` of the
extra corsway row, default the number of cores; 1 drops the row), \`BENCH_NAMESPACE=off\` (no network
namespace: corsway then runs with private targets allowed), \`BENCH_OUT\` (where to
write this file). \`GLIBC_TUNABLES\`, \`MALLOC_*\` and \`NODE_OPTIONS\`, when set, reach every
server the run starts (and its download client) and are shown in the command above. wrk
must be installed (Debian/Ubuntu: \`apt-get install wrk\`).
`;
  return { table: t, markdown };
}
