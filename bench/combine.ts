import {
  judged,
  type Row,
  type RunData,
  ratioSpread,
  roundRatios,
  shareOf,
  type Verdict,
  verdictCell,
  verdictLine,
  verdicts,
} from './report.ts';
import { median } from './rounds.ts';

/*
 * One BENCHMARKS.md from runs of `bench/run.ts` on several Node versions
 * (`npm run bench:both`): the first run's report, a table of every target on
 * each version (and the later versions judged against the first), then each
 * run's results under a heading naming its Node, and the machine lines saying all.
 */

const RESULTS = '## Results\n';
const MEASURED = '## What was measured';

/** One run: its markdown report and the figures it was rendered from. */
export interface Run {
  readonly markdown: string;
  readonly data: RunData;
}

/** Where a report's Results section starts and ends (at the next section). */
function bounds(report: string): { start: number; end: number } {
  const start = report.indexOf(RESULTS);
  const end = report.indexOf(MEASURED);
  if (start < 0 || end < start) throw new Error('bench: a report without its Results section');
  return { start, end };
}

function section(report: string): string {
  const { start, end } = bounds(report);
  return report.slice(start + RESULTS.length, end).trim();
}

function line(report: string, pattern: RegExp): RegExpExecArray {
  const found = pattern.exec(report);
  if (!found) throw new Error(`bench: a report without ${pattern}`);
  return found;
}

const NODE_LINE = /^- Node (v[\d.]+), wrk (.+)$/m;
const LOAD_LINE = /^- Load average when the run started: (.+)$/m;

const s1 = (rows: readonly Row[], role: Row['role']) =>
  rows.find((r) => r.scenario === 1 && r.role === role && !r.failed && r.rps);

/**
 * Issue 26's target across runs: on each later Node, corsway's scenario 1
 * share of the bare relay no lower than on the first run's Node. A later run
 * measures the first Node's pair too, in the same rounds as its own
 * (BENCH_BASE_NODE), so the two shares are judged round by round: met when the
 * median of each round's later share over its first-Node share is at least 1.
 */
export function acrossVersions(runs: readonly RunData[]): Verdict[] {
  const [first, ...later] = runs;
  if (!first) return [];
  return later.map((run) => {
    const target = `scenario 1: corsway's share of the relay on Node ${run.node} no lower than on Node ${first.node}`;
    const rows = run.measured.rows;
    const [c, f, cb, fb] = (['corsway', 'floor', 'corsway-base', 'floor-base'] as const).map((role) => s1(rows, role));
    if (run.base !== first.node || !c || !f || !cb || !fb)
      return { target, met: null, detail: `Node ${first.node}'s pair not run beside Node ${run.node}'s` };
    const [now, base] = [shareOf(c, f), shareOf(cb, fb)];
    const ratios = roundRatios(now.ratios, base.ratios);
    if (ratios.length === 0) return { target, met: null, detail: 'the two pairs did not run the same rounds' };
    const perRound = median(ratios);
    return {
      target,
      met: perRound >= 1,
      detail: `${now.text} vs ${base.text}, side by side in the Node ${run.node} run; the first over the second, per round: ${judged(perRound)}${ratios.length > 1 ? ` (${ratioSpread(ratios)})` : ''}`,
    };
  });
}

/** The targets of every run side by side, then the later runs judged against the first. */
function targetTable(runs: readonly RunData[]): string {
  const judged = runs.map((run) => verdicts(run.measured, run.rounds));
  const targets = [...new Set(judged.flatMap((list) => list.map((v) => v.target)))];
  const lines = [
    `| target | ${runs.map((r) => `Node ${r.node}`).join(' | ')} |`,
    `|---|${runs.map(() => '---').join('|')}|`,
    ...targets.map(
      (target) =>
        `| ${target} | ${judged
          .map((list) => {
            const v = list.find((x) => x.target === target);
            return v ? verdictCell(v) : 'not judged';
          })
          .join(' | ')} |`,
    ),
  ];
  const across = acrossVersions(runs).map((v) => `- ${verdictLine(v)}`);
  return `${lines.join('\n')}\n\n${across.length ? `Across the runs:\n${across.join('\n')}\n` : ''}`;
}

/** Combines the reports of runs on different Node versions, in the order given (the first is the baseline). */
export function combineReports(runs: readonly Run[]): string {
  const [first] = runs;
  if (first === undefined) throw new Error('bench: no report to combine');
  const versions = runs.map((run) => line(run.markdown, NODE_LINE)[1] as string);
  const loads = runs.map((run, i) => `${line(run.markdown, LOAD_LINE)[1]} (Node ${versions[i]} run)`);
  const wrk = line(first.markdown, NODE_LINE)[2] as string;
  const targets = `## Targets on each Node version\n\n${targetTable(runs.map((r) => r.data))}\n`;
  const results = runs.map((run, i) => `## Results on Node ${versions[i]}\n\n${section(run.markdown)}\n\n`).join('');
  const { start, end } = bounds(first.markdown);
  return `${first.markdown.slice(0, start)}${targets}${results}${first.markdown.slice(end)}`
    .replace('`npm run bench` (`bench/run.ts`)', '`npm run bench:both` (`bench/run.ts` once on each Node version)')
    .replace(/npm run bench\n```/, 'npm run bench:both\n```')
    .replace(NODE_LINE, `- Node ${versions.join(' and ')}, wrk ${wrk}`)
    .replace(LOAD_LINE, `- Load average when each run started: ${loads.join('; ')}`);
}
