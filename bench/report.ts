import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem, type } from 'node:os';
import { IDLE_SETTLE_MS } from './idle-rss.ts';
import { median, middle, roundsRule, spread } from './rounds.ts';
import { knobsText, type Settings } from './settings.ts';

export type { Settings } from './settings.ts';

/*
 * Turns measured rows into the console table and BENCHMARKS.md, and checks
 * them against the targets of the performance issue.
 */

export interface Row {
  readonly scenario: number;
  readonly title: string;
  readonly server: string;
  /**
   * `corsway-workers`: corsway on Node with CORSWAY_WORKERS. `floor`: a bare
   * undici pass-through with no policy, the least a Node proxy can cost.
   * `corsway-base`, `floor-base`: the two on `npm run bench:both`'s first
   * Node, measured in a later run's scenario 1 beside its own pair.
   */
  readonly role:
    | 'direct'
    | 'corsway'
    | 'corsway-workers'
    | 'corsway-cache'
    | 'cors-anywhere'
    | 'worker'
    | 'floor'
    | 'corsway-base'
    | 'floor-base';
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
  /** Throughput of each kept round, in the order taken (rounds are interleaved across servers). */
  rounds?: number[];
  notes: string[];
  failed?: string;
}

/** What one run measured. */
export interface Measured {
  readonly rows: readonly Row[];
  /** Idle RSS of the built CLI at each start, bytes; empty when not measured. */
  readonly idleRss: readonly number[];
  /** Wall time of the whole run (build, idle RSS, every scenario), seconds. */
  readonly seconds: number;
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

/**
 * A ratio judged against a target, cut to 3 decimals away from the bound it
 * is held to: rounded, a 0.8996 that misses "at least 0.9" would read
 * "0.900×", and a 1.2004 that misses "at most 1.2" would read "1.200×".
 * @param bound whether the target sets a floor (`at least`, the default) or a ceiling (`at most`)
 */
export function judged(ratio: number, bound: 'at least' | 'at most' = 'at least'): string {
  // The small term keeps a ratio that is exactly 0.57 from becoming 0.569 (0.57 * 1000 is 569.99...).
  const thousandths = bound === 'at least' ? Math.floor(ratio * 1000 + 1e-9) : Math.ceil(ratio * 1000 - 1e-9);
  return `${(thousandths / 1000).toFixed(3)}×`;
}

/** A table cell: `row`'s share of `other`'s throughput, as the targets judge it (shareOf). */
function versus(row: Row, other: Row | undefined): string {
  return other && throughput(row) !== undefined && throughput(other) ? `${shareOf(row, other).share.toFixed(2)}×` : '—';
}

/** Whether a row's server runs on `npm run bench:both`'s first Node (BENCH_BASE_NODE), beside this run's. */
export function onBaseNode(role: Row['role']): boolean {
  return role === 'corsway-base' || role === 'floor-base';
}

function peer(rows: readonly Row[], row: Row, role: Row['role']): Row | undefined {
  return rows.find((r) => r.scenario === row.scenario && r.role === role && !r.failed);
}

function table(rows: readonly Row[]): string {
  const lines = [
    '| # | scenario | server | throughput | p50 | p99 | vs direct | vs bare relay | vs cors-anywhere | CPU/req | peak RSS | notes |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of rows) {
    const t = throughput(r);
    const unit = r.mbps !== undefined ? 'MB/s' : 'req/s';
    const direct = peer(rows, r, 'direct');
    // The first Node's pair (bench:both) is judged against itself; cors-anywhere runs on this run's Node.
    const onBase = onBaseNode(r.role);
    const relay = peer(rows, r, onBase ? 'floor-base' : 'floor');
    const ca = onBase ? undefined : peer(rows, r, 'cors-anywhere');
    lines.push(
      `| ${r.scenario} | ${r.title} | ${r.server} | ${r.failed ? 'failed' : `${fmt(t)} ${unit}`} | ${ms(r.p50)} | ${ms(r.p99)} | ${
        r.role === 'direct' ? '' : versus(r, direct)
      } | ${r.role === 'direct' || r.role === 'floor' || r.role === 'floor-base' ? '' : versus(r, relay)} | ${
        r.role === 'direct' || r.role === 'cors-anywhere' || onBase ? '' : versus(r, ca)
      } | ${r.cpuPerRequest === undefined ? '' : `${fmt(r.cpuPerRequest)} µs`} | ${
        r.peakRss === undefined ? '' : `${mb(r.peakRss)} MB`
      } | ${[r.failed, ...r.notes].filter(Boolean).join('; ')} |`,
    );
  }
  return lines.join('\n');
}

const mb = (bytes: number) => fmt(bytes / 1e6, 1);

/** One run's figures as `npm run bench` hands them to `npm run bench:both` (BENCH_DATA). */
export interface RunData {
  /** The servers' Node, `v24.21.0`. */
  readonly node: string;
  /** The Node of the `corsway-base` and `floor-base` rows, where the run has them. */
  readonly base?: string;
  /** BENCH_ROUNDS of the run. */
  readonly rounds: number;
  readonly measured: Measured;
}

/** One target judged: met, missed, or not measured (null) in this run. */
export interface Verdict {
  readonly target: string;
  readonly met: boolean | null;
  readonly detail: string;
}

/** Issue 26's bounds, in one place. */
export const TARGETS = {
  /** Scenario 1: corsway's req/s as a share of the bare relay's, at least. */
  s1Relay: 0.85,
  /** Scenario 1: corsway's req/s over cors-anywhere's, at least. */
  s1CorsAnywhere: 4,
  /** Every other scenario the relay runs: corsway's throughput as a share of the relay's, at least. */
  otherRelay: 0.9,
  /** Scenario 1: corsway's peak RSS under load over the relay's, at most. */
  s1PeakRss: 1.2,
  /** Idle RSS of the built CLI, median of its starts, bytes, at most. */
  idleRss: 60e6,
  /** Interleaved rounds per scenario, at least. */
  rounds: 5,
} as const;

/**
 * `a`'s throughput as a share of `b`'s: the median of the per-round ratios
 * when both ran the same rounds (each round's figures were taken side by
 * side), else the ratio of the medians, with those ratios (none without
 * rounds) and its text: "0.872× (rounds 0.84–0.90×)".
 */
export function shareOf(a: Row, b: Row): { share: number; ratios: number[]; text: string } {
  const ratios = roundRatios(a.rounds ?? [], b.rounds ?? []);
  const share = ratios.length > 0 ? median(ratios) : (throughput(a) ?? 0) / (throughput(b) ?? 1);
  const perRound = ratios.length > 1 ? ` (rounds ${ratioSpread(ratios)})` : '';
  return { share, ratios, text: `${judged(share)}${perRound}` };
}

/** Each round's `a` over its `b`; none unless both ran the same rounds. */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.length > 0 && a.length === b.length ? a.map((x, i) => x / (b[i] as number)) : [];
}

/** "0.84–0.90×": the spread of per-round ratios. */
export const ratioSpread = (ratios: readonly number[]) => `${spread(ratios, (n) => n.toFixed(2))}×`;

/** "9,100 req/s (8,900–9,300)": a row's median with the spread of its rounds. */
function figure(row: Row): string {
  const unit = row.mbps !== undefined ? 'MB/s' : 'req/s';
  const rounds = row.rounds && row.rounds.length > 1 ? ` (${spread(row.rounds, fmt)})` : '';
  return `${fmt(throughput(row))} ${unit}${rounds}`;
}

/** Issue 26's targets for corsway on Node (one process), judged from one run's own rows. */
export function verdicts(measured: Measured, rounds: number): Verdict[] {
  const { rows, idleRss } = measured;
  const find = (scenario: number, role: Row['role']) =>
    rows.find((r) => r.scenario === scenario && r.role === role && !r.failed);
  const out: Verdict[] = [];
  const judge = (target: string, met: boolean | null, detail: string) => out.push({ target, met, detail });

  const [c1, f1, a1] = [find(1, 'corsway'), find(1, 'floor'), find(1, 'cors-anywhere')];
  const relay1 = `at least ${TARGETS.s1Relay}× the bare relay`;
  if (c1?.rps && f1?.rps) {
    const { share, text } = shareOf(c1, f1);
    judge(
      `scenario 1: corsway ${relay1}`,
      share >= TARGETS.s1Relay,
      `${text}; corsway ${figure(c1)}, relay ${figure(f1)}`,
    );
  } else judge(`scenario 1: corsway ${relay1}`, null, 'not run');
  const ca1 = `at least ${TARGETS.s1CorsAnywhere}× cors-anywhere`;
  if (c1?.rps && a1?.rps) {
    const { share, text } = shareOf(c1, a1);
    judge(`scenario 1: corsway ${ca1}`, share >= TARGETS.s1CorsAnywhere, `${text}; cors-anywhere ${figure(a1)}`);
  } else judge(`scenario 1: corsway ${ca1}`, null, 'not run');
  const p99 = 'scenario 1: p99 no worse than cors-anywhere';
  if (c1?.p99 !== undefined && a1?.p99 !== undefined) judge(p99, c1.p99 <= a1.p99, `${ms(c1.p99)} vs ${ms(a1.p99)}`);
  else judge(p99, null, 'not run');
  const rss1 = `scenario 1: peak RSS under load within ${TARGETS.s1PeakRss}× the relay's (the target names Node 24)`;
  if (c1?.peakRss && f1?.peakRss)
    judge(
      rss1,
      c1.peakRss <= TARGETS.s1PeakRss * f1.peakRss,
      `${judged(c1.peakRss / f1.peakRss, 'at most')}; corsway ${mb(c1.peakRss)} MB, relay ${mb(f1.peakRss)} MB`,
    );
  else judge(rss1, null, 'no peak RSS of both');

  const others = [...new Set(rows.filter((r) => r.role === 'floor' && r.scenario !== 1).map((r) => r.scenario))];
  for (const scenario of others.sort((a, b) => a - b)) {
    const [c, f] = [rows.find((r) => r.scenario === scenario && r.role === 'corsway'), find(scenario, 'floor')];
    const target = `scenario ${scenario}: corsway at least ${TARGETS.otherRelay}× the bare relay`;
    if (c?.failed) judge(target, false, c.failed);
    else if (c && f && throughput(c) && throughput(f)) {
      const { share, text } = shareOf(c, f);
      judge(target, share >= TARGETS.otherRelay, `${text}; corsway ${figure(c)}, relay ${figure(f)}`);
    } else judge(target, null, 'not run');
  }

  const idle = `idle RSS of the built CLI at most ${TARGETS.idleRss / 1e6} MB (the target names Node 20)`;
  if (idleRss.length > 0) {
    const median = middle(idleRss);
    judge(
      idle,
      median <= TARGETS.idleRss,
      `${mb(median)} MB, median of ${idleRss.length} start${idleRss.length > 1 ? `s (${spread(idleRss, mb)} MB)` : ''}`,
    );
  } else judge(idle, null, 'not run');

  const c4 = rows.find((r) => r.scenario === 4 && r.role === 'corsway');
  judge(
    'scenario 4: gzip passes through untouched',
    c4 ? !c4.failed : null,
    c4 ? (c4.failed ?? 'same Content-Encoding and bytes as the upstream sent') : 'not run',
  );

  const corsway = (r: Row) => r.role === 'corsway' || r.role === 'corsway-workers';
  const slower = rows
    .filter(corsway)
    .filter((r) => {
      const ca = find(r.scenario, 'cors-anywhere');
      return r.failed || (ca && shareOf(r, ca).share < 1);
    })
    .map((r) => (r.role === 'corsway' ? `${r.scenario}` : `${r.scenario} (${r.server})`));
  judge(
    'no scenario slower than cors-anywhere',
    rows.some(corsway) ? slower.length === 0 : null,
    slower.length ? `slower in ${slower.join(', ')}` : 'every scenario',
  );

  // Every server of a scenario shares its kept rounds (an empty list: none kept);
  // the direct row stands for the scenarios the relay sits out.
  const inRounds = rows.filter((r) => (r.role === 'floor' || r.role === 'direct') && r.rounds && !r.failed);
  const short = [...new Set(inRounds.filter((r) => (r.rounds?.length ?? 0) < rounds).map((r) => r.scenario))];
  judge(
    `at least ${TARGETS.rounds} interleaved rounds per scenario, each kept`,
    inRounds.length > 0 ? rounds >= TARGETS.rounds && short.length === 0 : null,
    inRounds.length === 0
      ? 'no rounds run'
      : `${rounds} round${rounds > 1 ? 's' : ''}${short.length ? `; fewer kept in scenario ${short.join(', ')}` : ''}`,
  );
  return out;
}

const word = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : '**missed**');

/** A verdict as BENCHMARKS.md shows it: "met: 0.872× (…)". */
export function verdictCell(v: Verdict): string {
  return `${word(v.met)}: ${v.detail}`;
}

/** "met: scenario 1: … (0.872× …)". */
export function verdictLine(v: Verdict): string {
  return `${word(v.met)}: ${v.target} (${v.detail})`;
}

/** The verdicts as a markdown list under a heading line. */
export function verdictText(list: readonly Verdict[]): string {
  return `Targets (corsway on Node, one process):\n${list.map((v) => `- ${verdictLine(v)}`).join('\n')}`;
}

/** "14 min 5 s". */
export function duration(seconds: number): string {
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** The bench's knobs, and what else in the environment changes every Node server's speed. */
const RUNTIME_ENV = new Set(['NODE_OPTIONS', 'GLIBC_TUNABLES']);
/** Knobs that name a path of the machine that ran the bench: the report says which Node, not where. */
const LOCAL_KNOBS = new Set(['BENCH_NODE', 'BENCH_BASE_NODE', 'BENCH_OUT', 'BENCH_DATA']);

function command(): string {
  const knobs = Object.entries(process.env)
    .filter(([k]) => (k.startsWith('BENCH_') && !LOCAL_KNOBS.has(k)) || RUNTIME_ENV.has(k) || k.startsWith('MALLOC_'))
    .map(([k, v]) => `${k}=${v}`);
  return [...knobs, 'npm run bench'].join(' ');
}

export function render(measured: Measured, s: Settings, m: Machine): { table: string; markdown: string } {
  const t = table(measured.rows);
  const idle = measured.idleRss.length
    ? `Idle RSS of the built CLI (\`dist/node/cli.js\`, default configuration, ${IDLE_SETTLE_MS / 1000} s after it listens, no request yet): ${mb(middle(measured.idleRss))} MB, the median of ${measured.idleRss.length} start${measured.idleRss.length > 1 ? 's' : ''} (${measured.idleRss.map(mb).join(', ')} MB).`
    : 'Idle RSS of the built CLI: not measured in this run.';
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

Total run time: ${duration(measured.seconds)} (the build, idle RSS and every scenario).

${t}

${idle}

${verdictText(verdicts(measured, s.rounds))}

## What was measured

- **direct**: a keep-alive \`node:http\` server (\`bench/upstream.ts\`) answering
  from memory. **corsway (Node)**: the built package (\`npm run build\`, then
  \`dist/node/cli.js\`, as \`npx corsway\` runs it), request logging off, one process.${
    s.nodeWorkers > 1
      ? ` **corsway (Node, ${s.nodeWorkers} workers)**: the same with \`CORSWAY_WORKERS=${s.nodeWorkers}\` (one per core here), in the scenarios without a rate limit (one across workers needs Redis).`
      : ''
  } **cors-anywhere**: 0.4.4 configured as its README recommends
  (\`removeHeaders: ['cookie', 'cookie2']\`, \`requireHeader: ['origin', 'x-requested-with']\`);
  it answers \`Connection: close\`, so each of its requests pays a new connection.
  **bare pass-through (floor)**: \`bench/passthrough.mjs\`, node:http in and undici's
  dispatcher out as in corsway's Node path, the body relayed with backpressure,
  \`Access-Control-Allow-Origin\` added and the upstream request ended when its client
  goes away, and nothing else (no target rules, address
  guard, header policy or SPEC headers): what such a proxy costs before any of its
  work. The "vs bare relay" column is each row's share of it. It forwards preflights rather than
  answering them, so it sits out scenario 5, and scenario 6 too.
  In \`npm run bench:both\`'s Node 24 run, scenario 1 also has corsway and the relay on
  Node 20 (rows naming their Node): a second pair, sliced the same way in the same rounds
  (the two pairs' order reversed every round), so the target comparing the versions' shares
  judges figures taken seconds apart.
  ${s.worker ? `**corsway (wrangler dev)**: the Worker in local workerd, where it started${s.workerNote ? ` (${s.workerNote})` : ''}; wrangler dev is a development server, not Cloudflare's edge.` : 'corsway in wrangler dev was not measured in this run.'}
- ${guard}
- Every request carries an \`Origin\` header, as a browser's would.
- wrk: ${Math.min(2, s.connections)} threads, ${s.connections} connections, 10 s request timeout, after a
  warm-up run of each server, every run 100 ms after the last. Scenarios 1-6, 8 and 9 run in
  ${s.rounds} round${s.rounds > 1 ? 's' : ''}, every server once per round in turn, and each row shows the server's median
  round, so a burst of other load on a shared machine cannot land on all runs of one server;
  the notes give the spread (lowest–highest) of the rounds beside that median. Each server
  runs ${s.seconds} s per round (${Math.min(s.seconds, 4)} s in scenario 8), except corsway and the bare relay, whose ratio the
  targets judge: after 1 s of load each that is not measured, they take turns in 1 s
  slices, the order reversed every slice, so a slower stretch of the machine lands on both.
  Their round is their slices summed (requests over seconds, CPU time added up; latency
  percentiles of the median slice). In every scenario, ${roundsRule(s.otherLoadPercent / 100)}
  (at most as many times as there are rounds; the relay's row, or the first where it sits out,
  says what was taken again or discarded and the most other load of any kept run). Other load
  is the CPU time of every user-space process the bench did not start plus the hypervisor's
  steal, over the machine's CPU time (/proc); the notes give the two apart. Throughput is
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
  one's peak). In the wrk scenarios it is the server's VmHWM, reset after the warm-up
  run and read after the last round, so it covers every measured round (where the
  kernel refuses the reset, the highest VmRSS sampled every 50 ms).
- Scenario 7: one \`node:http\` client downloads ${s.downloadBytes / 1024 / 1024} MiB and discards it,
  in ${s.rounds} round${s.rounds > 1 ? 's' : ''} of one download per server in turn, the order reversed every round; the row shows the median
  download. MB/s is 10^6 bytes per second. Peak RSS is the highest of the rounds:
  the proxy process's VmHWM (reset before each download) or, where the kernel
  refuses the reset, the highest VmRSS sampled every 50 ms.
- Scenario 8: before each run or slice, ${s.idleClients} keep-alive connections each complete one request
  and stay open and idle while wrk runs (inside Node's default 5 s keep-alive timeout), and are
  closed after it. Notes give the fewest idle connections seen open before and after the load
  in any run; CPU per request counts the load only; peak RSS covers opening them and the load.
- Idle RSS: before any scenario, the built CLI (\`dist/node/cli.js\`, as an installed
  package runs it) is started ${s.idleStarts} time${s.idleStarts > 1 ? 's' : ''} with the default configuration (only a
  loopback port set) and its VmRSS read ${IDLE_SETTLE_MS / 1000} s after its "listening" line, before any request.
- Targets (issue 26), judged from this run's own rows: scenario 1 at least
  ${TARGETS.s1Relay}× the bare relay and ${TARGETS.s1CorsAnywhere}× cors-anywhere, with p99 no worse than cors-anywhere's;
  every other scenario the relay runs at least ${TARGETS.otherRelay}× the relay; corsway's peak RSS
  under scenario 1's load within ${TARGETS.s1PeakRss}× the relay's (a target for Node 24, judged on
  every run); idle RSS at most ${TARGETS.idleRss / 1e6} MB (a target for Node 20, judged on every run);
  gzip untouched; no scenario slower than cors-anywhere; at least ${TARGETS.rounds} rounds, each kept.
  A ratio, in the table and in the targets, is the median of the per-round ratios (each
  round's figures were taken side by side), with their spread beside it; it is judged to 3 decimals.
- Everything runs on one machine over loopback; nothing else is contacted.

## Knobs

${knobsText()}
`;
  return { table: t, markdown };
}
