import { describe, expect, test } from 'vitest';
import { acrossVersions, combineReports, type Run } from '../../bench/combine.ts';
import { type Machine, type Row, render } from '../../bench/report.ts';
import { knobsText, NUMERIC_KNOBS, readSettings, type Settings } from '../../bench/settings.ts';

const SETTINGS: Settings = {
  quick: false,
  seconds: 5,
  rounds: 5,
  otherLoadPercent: 5,
  connections: 50,
  downloadBytes: 1024 * 1024 * 1024,
  idleClients: 1000,
  idleStarts: 3,
  worker: false,
  nodeWorkers: 2,
  only: null,
  guard: 'namespace',
};

/** A run's report and data: S1 with corsway at `corswayRps` against a relay at 9,000 req/s. */
function report(node: string, load: string, corswayRps: number, idleMb = 55): Run {
  const machine: Machine = {
    cpu: 'a CPU',
    cores: 2,
    memory: '24 GiB',
    os: 'Linux',
    node,
    wrk: '4.1.0',
    load,
    date: '2026-12-06T17:00:00Z',
  };
  const rows: Row[] = [
    { scenario: 1, title: 'GET small JSON', server: 'direct', role: 'direct', rps: 20_000, notes: [] },
    {
      scenario: 1,
      title: 'GET small JSON',
      server: 'corsway (Node)',
      role: 'corsway',
      rps: corswayRps,
      rounds: [corswayRps, corswayRps * 1.01, corswayRps * 0.99, corswayRps, corswayRps],
      notes: [],
    },
    {
      scenario: 1,
      title: 'GET small JSON',
      server: 'bare pass-through',
      role: 'floor',
      rps: 9_000,
      rounds: [9_000, 9_000, 9_000, 9_000, 9_000],
      notes: [],
    },
  ];
  const measured = { rows, idleRss: [idleMb * 1e6, (idleMb + 1) * 1e6, (idleMb - 1) * 1e6], seconds: 754 };
  return { markdown: render(measured, SETTINGS, machine).markdown, data: { node, rounds: 5, measured } };
}

describe('npm run bench:both: one report from a run on each Node version', () => {
  const node20 = report('v20.20.2', '0.50 0.40 0.30', 6_111);
  const node24 = report('v24.21.0', '0.70 0.60 0.50', 7_222);
  const combined = combineReports([node20, node24]);

  test("each run's results under a heading naming its Node, in order, once", () => {
    const first = combined.indexOf('## Results on Node v20.20.2\n');
    const second = combined.indexOf('## Results on Node v24.21.0\n');
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(combined.slice(first, second)).toContain('6,111 req/s');
    expect(combined.slice(second)).toContain('7,222 req/s');
    expect(combined.slice(second)).not.toContain('6,111 req/s');
    expect(combined.match(/^## What was measured$/gm)).toHaveLength(1);
    expect(combined).not.toMatch(/^## Results$/m);
  });

  test('the machine lines and the command say both runs', () => {
    expect(combined).toContain('- Node v20.20.2 and v24.21.0, wrk 4.1.0');
    expect(combined).toContain(
      '- Load average when each run started: 0.50 0.40 0.30 (Node v20.20.2 run); 0.70 0.60 0.50 (Node v24.21.0 run)',
    );
    expect(combined).toMatch(/```sh\n(.* )?npm run bench:both\n```/);
    expect(combined).toContain('`npm run bench:both`');
  });

  test("a report that is not the bench's is refused, not half-combined", () => {
    expect(() => combineReports([node20, { ...node24, markdown: '# something else\n' }])).toThrow(
      /bench: a report without/,
    );
  });

  test('a table of every target with a column per Node version, idle RSS judged on each', () => {
    const table = combined.slice(
      combined.indexOf('## Targets on each Node version\n'),
      combined.indexOf('## Results on'),
    );
    expect(table).toContain('| target | Node v20.20.2 | Node v24.21.0 |');
    expect(table).toMatch(
      /^\| scenario 1: corsway at least 0\.85× the bare relay \| \*\*missed\*\*: 0\.679× \(rounds 0\.67–0\.69×\)[^|]* \| \*\*missed\*\*: 0\.802× \(rounds 0\.79–0\.81×\)/m,
    );
    expect(table).toMatch(
      /^\| idle RSS of the built CLI at most 60 MB [^|]*\| met: 55\.0 MB, median of 3 starts \(54\.0–56\.0 MB\) \| met: /m,
    );
    expect(table).toContain(
      "met: scenario 1: corsway's share of the relay on Node v24.21.0 no lower than on Node v20.20.2",
    );
  });

  test('each run says its total run time; the knobs say the defaults the code uses', () => {
    expect(combined.match(/^Total run time: 12 min 34 s \(/gm)).toHaveLength(2);
    const rounds = NUMERIC_KNOBS.find((k) => k.name === 'BENCH_ROUNDS');
    expect(readSettings({}).rounds).toBe(5);
    expect(rounds?.full).toBe(5);
    expect(knobsText()).toContain(
      '`BENCH_ROUNDS` (rounds of every scenario, every server once per round in turn, default 5, 1 with BENCH_QUICK)',
    );
    expect(combined).toContain(knobsText());
    expect(() => readSettings({ BENCH_ROUNDS: '0' })).toThrow(/BENCH_ROUNDS must be a positive number/);
  });
});

describe("Node 24's S1 share of the relay against Node 20's", () => {
  // [Node 20's corsway req/s, Node 24's, met] with the relay at 9,000 on both
  const cases: Array<[number, number, boolean | null]> = [
    [7_650, 7_650, true],
    [7_650, 7_700, true],
    [7_650, 7_600, false],
    [7_650, 0, null],
  ];
  test.each(cases)('%d vs %d req/s: %s', (rps20, rps24, met) => {
    const [first, second] = [report('v20.20.2', '0', rps20).data, report('v24.21.0', '0', rps24).data];
    const rows = second.measured.rows.filter((r) => r.role !== 'corsway' || rps24 > 0);
    const [verdict] = acrossVersions([first, { ...second, measured: { ...second.measured, rows } }]);
    expect(verdict?.met).toBe(met);
    if (met !== null)
      expect(verdict?.detail).toMatch(/^\d\.\d{3}× \(rounds [\d.–]+×\) vs 0\.850× \(rounds [\d.–]+×\)$/);
  });
});
