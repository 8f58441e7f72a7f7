/*
 * One BENCHMARKS.md from runs of `bench/run.ts` on several Node versions
 * (`npm run bench:both`): the first run's report, with each run's results
 * under a heading naming its Node, and the machine lines saying both.
 */

const RESULTS = '## Results\n';
const MEASURED = '## What was measured';

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

/** Combines the markdown of runs on different Node versions, in the order given. */
export function combineReports(reports: readonly string[]): string {
  const [first] = reports;
  if (first === undefined) throw new Error('bench: no report to combine');
  const versions = reports.map((report) => line(report, NODE_LINE)[1] as string);
  const loads = reports.map((report, i) => `${line(report, LOAD_LINE)[1]} (Node ${versions[i]} run)`);
  const wrk = line(first, NODE_LINE)[2] as string;
  const results = reports.map((report, i) => `## Results on Node ${versions[i]}\n\n${section(report)}\n\n`).join('');
  const { start, end } = bounds(first);
  return `${first.slice(0, start)}${results}${first.slice(end)}`
    .replace('`npm run bench` (`bench/run.ts`)', '`npm run bench:both` (`bench/run.ts` once on each Node version)')
    .replace(/npm run bench\n```/, 'npm run bench:both\n```')
    .replace(NODE_LINE, `- Node ${versions.join(' and ')}, wrk ${wrk}`)
    .replace(LOAD_LINE, `- Load average when each run started: ${loads.join('; ')}`);
}
