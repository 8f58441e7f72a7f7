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

/** Scenario 1 rows of a corsway at `rps` and a relay at 9,000 req/s, their rounds taken side by side. */
function pair(rps: number, [corsway, floor]: readonly [Row['role'], Row['role']], node = ''): Row[] {
  const row = (server: string, role: Row['role'], at: number, rounds: number[]): Row => ({
    scenario: 1,
    title: 'GET small JSON',
    server: `${server}${node && ` (Node ${node})`}`,
    role,
    rps: at,
    rounds,
    notes: [],
  });
  return [
    row('corsway', corsway, rps, [rps, rps * 1.01, rps * 0.99, rps, rps]),
    row('bare pass-through', floor, 9_000, [9_000, 9_000, 9_000, 9_000, 9_000]),
  ];
}

/**
 * A run's report and data: S1 with corsway at `corswayRps` against a relay at
 * 9,000 req/s; with `base`, the first Node's pair measured beside it.
 */
function report(
  node: string,
  load: string,
  corswayRps: number,
  idleMb = 55,
  base?: { node: string; corswayRps: number },
): Run {
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
    ...pair(corswayRps, ['corsway', 'floor']),
    ...(base ? pair(base.corswayRps, ['corsway-base', 'floor-base'], base.node) : []),
  ];
  const measured = { rows, idleRss: [idleMb * 1e6, (idleMb + 1) * 1e6, (idleMb - 1) * 1e6], seconds: 754 };
  const data = { node, ...(base ? { base: base.node } : {}), rounds: 5, measured };
  return { markdown: render(measured, SETTINGS, machine).markdown, data };
}

describe('npm run bench:both: one report from a run on each Node version', () => {
  const node20 = report('v20.20.2', '0.50 0.40 0.30', 6_111);
  const node24 = report('v24.21.0', '0.70 0.60 0.50', 7_222, 55, { node: 'v20.20.2', corswayRps: 7_111 });
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

describe("Node 24's S1 share of the relay against Node 20's, measured side by side in the Node 24 run", () => {
  // [Node 20's corsway req/s beside Node 24's, Node 24's, met] with both relays at 9,000
  const cases: Array<[number, number, boolean | null]> = [
    [7_650, 7_650, true],
    [7_650, 7_700, true],
    [7_650, 7_600, false],
    [7_650, 0, null],
  ];
  test.each(cases)('%d vs %d req/s: %s', (rps20, rps24, met) => {
    // The Node 20 run's own figure is not what is judged: it ran half an hour apart.
    const first = report('v20.20.2', '0', 1_000).data;
    const second = report('v24.21.0', '0', rps24, 55, { node: 'v20.20.2', corswayRps: rps20 }).data;
    const rows = second.measured.rows.filter((r) => r.role !== 'corsway' || rps24 > 0);
    const [verdict] = acrossVersions([first, { ...second, measured: { ...second.measured, rows } }]);
    expect(verdict?.met).toBe(met);
    if (met !== null)
      expect(verdict?.detail).toMatch(
        /^\d\.\d{3}× \(rounds [\d.–]+×\) vs 0\.850× \(rounds [\d.–]+×\), side by side in the Node v24\.21\.0 run; the first over the second, per round: \d\.\d{3}× \([\d.–]+×\)$/,
      );
  });

  test('judged round by round: a share lower in most rounds misses, whatever the medians say', () => {
    const first = report('v20.20.2', '0', 7_650).data;
    const second = report('v24.21.0', '0', 7_650, 55, { node: 'v20.20.2', corswayRps: 7_650 }).data;
    const rounds = {
      corsway: [7_600, 7_700, 7_500, 8_200, 7_650],
      'corsway-base': [7_650, 7_750, 7_550, 7_300, 7_700],
    };
    const rows = second.measured.rows.map((r) =>
      r.role === 'corsway' || r.role === 'corsway-base' ? { ...r, rounds: rounds[r.role] } : r,
    );
    // Medians 7,650 against 7,650, but Node 24's share is lower in four rounds of five.
    const [verdict] = acrossVersions([first, { ...second, measured: { ...second.measured, rows } }]);
    expect(verdict?.met).toBe(false);
  });

  test("without the first Node's pair beside it, or beside another Node, it is not judged", () => {
    const first = report('v20.20.2', '0', 7_650).data;
    const alone = report('v24.21.0', '0', 7_700).data;
    expect(acrossVersions([first, alone])[0]?.met).toBeNull();
    const other = report('v24.21.0', '0', 7_700, 55, { node: 'v22.1.0', corswayRps: 7_650 }).data;
    expect(acrossVersions([first, other])[0]).toMatchObject({
      met: null,
      detail: "Node v20.20.2's pair not run beside Node v24.21.0's",
    });
  });

  test("the first Node's pair is judged against itself in the later run's table", () => {
    const run = report('v24.21.0', '0', 7_650, 55, { node: 'v20.20.2', corswayRps: 7_200 });
    expect(run.markdown).toMatch(
      /\| corsway \(Node v20\.20\.2\) \| 7,200 req\/s \|[^|]*\|[^|]*\|[^|]*\| 0\.80× \| {2}\|/,
    );
  });
});
