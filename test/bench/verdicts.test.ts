import { describe, expect, test } from 'vitest';
import { type Measured, type Row, type Verdict, verdicts } from '../../bench/report.ts';

/*
 * The bench report's judgement of issue 26's targets, over synthetic rows:
 * each case moves one figure across its bound and names the verdict that
 * must turn.
 */

const MB = 1e6;

type Spec = Partial<Omit<Row, 'scenario' | 'role' | 'title' | 'server' | 'notes'>>;

function row(scenario: number, role: Row['role'], spec: Spec): Row {
  return { scenario, role, title: `scenario ${scenario}`, server: role, notes: [], ...spec };
}

/** Five rounds around a median, so the per-round ratios have a spread. */
const rounds = (median: number) => [median * 0.98, median, median * 1.01, median * 0.99, median * 1.02];

/** A run that meets every target: S1 0.9× the relay, 5× cors-anywhere, every other scenario 0.95×. */
function passing(): Row[] {
  const rows: Row[] = [
    row(1, 'direct', { rps: 30_000, rounds: rounds(30_000) }),
    row(1, 'corsway', { rps: 9_000, rounds: rounds(9_000), p99: 12, peakRss: 100 * MB }),
    row(1, 'floor', { rps: 10_000, rounds: rounds(10_000), p99: 10, peakRss: 90 * MB }),
    row(1, 'cors-anywhere', { rps: 1_800, rounds: rounds(1_800), p99: 40 }),
    row(1, 'corsway-workers', { rps: 14_000, rounds: rounds(14_000) }),
  ];
  for (const scenario of [2, 3, 4, 7, 9]) {
    const mbps = scenario === 7;
    const figure = (n: number): Spec => (mbps ? { mbps: n, rounds: rounds(n) } : { rps: n, rounds: rounds(n) });
    rows.push(
      row(scenario, 'corsway', figure(950)),
      row(scenario, 'floor', figure(1_000)),
      row(scenario, 'cors-anywhere', figure(300)),
    );
  }
  rows.push(
    row(5, 'corsway', { rps: 20_000, rounds: rounds(20_000) }),
    row(5, 'cors-anywhere', { rps: 2_000, rounds: rounds(2_000) }),
    row(8, 'corsway', { rps: 9_500 }),
    row(8, 'floor', { rps: 10_000 }),
    row(8, 'cors-anywhere', { rps: 1_900 }),
  );
  return rows;
}

const IDLE = [55 * MB, 57 * MB, 58 * MB];

function judge(rows: Row[], idleRss: readonly number[] = IDLE, roundCount = 5): Verdict[] {
  const measured: Measured = { rows, idleRss, seconds: 600 };
  return verdicts(measured, roundCount);
}

function find(list: readonly Verdict[], start: string): Verdict {
  const found = list.filter((v) => v.target.startsWith(start));
  expect(found, `one verdict starting "${start}"`).toHaveLength(1);
  return found[0] as Verdict;
}

const set = (rows: Row[], scenario: number, role: Row['role'], spec: Spec) =>
  Object.assign(rows.find((r) => r.scenario === scenario && r.role === role) as Row, spec);

describe('bench verdicts: issue 26 targets judged from one run', () => {
  test('a run that meets every target has every verdict met, one per scenario the relay runs', () => {
    const list = judge(passing());
    expect(list.filter((v) => v.met !== true)).toEqual([]);
    expect(list.map((v) => v.target)).toEqual([
      'scenario 1: corsway at least 0.85× the bare relay',
      'scenario 1: corsway at least 4× cors-anywhere',
      'scenario 1: p99 no worse than cors-anywhere',
      "scenario 1: peak RSS under load within 1.2× the relay's (the target names Node 24)",
      'scenario 2: corsway at least 0.9× the bare relay',
      'scenario 3: corsway at least 0.9× the bare relay',
      'scenario 4: corsway at least 0.9× the bare relay',
      'scenario 7: corsway at least 0.9× the bare relay',
      'scenario 8: corsway at least 0.9× the bare relay',
      'scenario 9: corsway at least 0.9× the bare relay',
      'idle RSS of the built CLI at most 60 MB (the target names Node 20)',
      'scenario 4: gzip passes through untouched',
      'no scenario slower than cors-anywhere',
      'at least 5 interleaved rounds per scenario, each kept',
    ]);
  });

  test('the S1 share is the median of the per-round ratios, shown with their spread and each median with its rounds', () => {
    const rows = passing();
    set(rows, 1, 'corsway', { rps: 8_700, rounds: [8_600, 8_700, 8_800, 8_650, 8_900] });
    set(rows, 1, 'floor', { rps: 10_000, rounds: [10_000, 10_100, 9_900, 10_000, 10_200] });
    expect(find(judge(rows), 'scenario 1: corsway at least 0.85×').detail).toBe(
      '0.865× (rounds 0.86–0.89×); corsway 8,700 req/s (8,600–8,900), relay 10,000 req/s (9,900–10,200)',
    );
  });

  test('a share pairs each round with itself: not the ratio of two medians taken in different rounds', () => {
    const rows = passing();
    // The medians (8,800 and 10,000) come from different rounds and read 0.880×; round by
    // round corsway ran 0.76–0.93× the relay, 0.892× in the middle.
    set(rows, 3, 'corsway', { rps: 8_800, rounds: [9_000, 8_000, 8_800, 9_100, 8_700] });
    set(rows, 3, 'floor', { rps: 10_000, rounds: [10_000, 10_500, 9_500, 10_200, 9_900] });
    const verdict = find(judge(rows), 'scenario 3: corsway at least 0.9×');
    expect(verdict.detail).toMatch(/^0\.892× \(rounds 0\.76–0\.93×\)/);
    expect(verdict.met).toBe(false);
    set(rows, 3, 'corsway', { rps: 8_800, rounds: [9_000, 9_450, 8_600, 9_100, 8_700] });
    expect(find(judge(rows), 'scenario 3: corsway at least 0.9×')).toMatchObject({ met: true });
    expect(find(judge(rows), 'scenario 3: corsway at least 0.9×').detail).toMatch(/^0\.900×/);
  });

  test('a ratio just past its bound never reads as the bound itself', () => {
    const rows = passing();
    // 0.8996× misses "at least 0.9"; rounded to 3 decimals it would read 0.900×.
    set(rows, 3, 'corsway', { rps: 8_996, rounds: rounds(8_996) });
    set(rows, 3, 'floor', { rps: 10_000, rounds: rounds(10_000) });
    expect(find(judge(rows), 'scenario 3: corsway at least 0.9×')).toMatchObject({
      met: false,
      detail: expect.stringMatching(/^0\.899× /),
    });
    // 1.2004× misses "within 1.2×"; rounded it would read 1.200×.
    set(rows, 1, 'corsway', { peakRss: 90 * MB * 1.2004 });
    expect(find(judge(rows), 'scenario 1: peak RSS')).toMatchObject({
      met: false,
      detail: expect.stringMatching(/^1\.201×; /),
    });
    // On the bound itself, both read it exactly, and are met.
    set(rows, 3, 'corsway', { rps: 9_000, rounds: rounds(9_000) });
    set(rows, 1, 'corsway', { peakRss: 90 * MB * 1.2 });
    expect(find(judge(rows), 'scenario 3: corsway at least 0.9×')).toMatchObject({
      met: true,
      detail: expect.stringMatching(/^0\.900× /),
    });
    expect(find(judge(rows), 'scenario 1: peak RSS')).toMatchObject({
      met: true,
      detail: expect.stringMatching(/^1\.200×; /),
    });
  });

  // [what changes, the verdict that must turn to missed, a detail it must show, the others that turn with it]
  const misses: Array<[string, (rows: Row[]) => void, string, RegExp, string[]?]> = [
    [
      'S1 at 0.849× the relay',
      (rows) => set(rows, 1, 'corsway', { rps: 8_490, rounds: rounds(8_490) }),
      'scenario 1: corsway at least 0.85× the bare relay',
      /^0\.849×/,
    ],
    [
      'S1 at 3.9× cors-anywhere',
      (rows) => set(rows, 1, 'cors-anywhere', { rps: 9_000 / 3.9, rounds: rounds(9_000 / 3.9) }),
      'scenario 1: corsway at least 4× cors-anywhere',
      /^3\.900×/,
    ],
    [
      "S1's p99 above cors-anywhere's",
      (rows) => set(rows, 1, 'corsway', { p99: 41 }),
      'scenario 1: p99 no worse than cors-anywhere',
      /41\.0 ms vs 40\.0 ms/,
    ],
    [
      "S1's peak RSS 1.21× the relay's",
      (rows) => set(rows, 1, 'corsway', { peakRss: 90 * MB * 1.21 }),
      'scenario 1: peak RSS',
      /^1\.210×; corsway 108\.9 MB, relay 90\.0 MB/,
    ],
    [
      'S7 at 0.89× the relay',
      (rows) => set(rows, 7, 'corsway', { mbps: 890, rounds: rounds(890) }),
      'scenario 7: corsway at least 0.9× the bare relay',
      /^0\.890×.*MB\/s/,
    ],
    [
      'S8 at 0.85× the relay (one run, no rounds)',
      (rows) => set(rows, 8, 'corsway', { rps: 8_500 }),
      'scenario 8: corsway at least 0.9× the bare relay',
      /^0\.850×; corsway 8,500 req\/s, relay 10,000 req\/s$/,
    ],
    [
      'S3 failed its check',
      (rows) => set(rows, 3, 'corsway', { failed: 'check failed: echo of 3 bytes' }),
      'scenario 3: corsway at least 0.9× the bare relay',
      /echo of 3 bytes/,
      ['no scenario slower than cors-anywhere'],
    ],
    [
      'S4 failed: gzip altered',
      (rows) => set(rows, 4, 'corsway', { failed: 'check failed: Content-Encoding undefined' }),
      'scenario 4: gzip passes through untouched',
      /Content-Encoding undefined/,
      ['scenario 4: corsway at least 0.9× the bare relay', 'no scenario slower than cors-anywhere'],
    ],
    [
      'the workers row slower than cors-anywhere in S5',
      (rows) => rows.push(row(5, 'corsway-workers', { rps: 1_500 })),
      'no scenario slower than cors-anywhere',
      /slower in 5 \(corsway-workers\)/,
    ],
    [
      "a relay's round discarded and not made up",
      (rows) => set(rows, 2, 'floor', { rounds: [1_000, 1_010, 990, 1_000] }),
      'at least 5 interleaved rounds',
      /fewer kept in scenario 2/,
    ],
    [
      'no round kept in a scenario the relay sits out (other load hit every one)',
      (rows) => rows.push(row(5, 'direct', { rounds: [] })),
      'at least 5 interleaved rounds',
      /fewer kept in scenario 5/,
    ],
  ];

  test.each(misses)('%s: missed', (_, change, target, detail, also = []) => {
    const rows = passing();
    change(rows);
    const list = judge(rows);
    const verdict = find(list, target);
    expect(verdict.met).toBe(false);
    expect(verdict.detail).toMatch(detail);
    // Only that verdict turned (and, for a failed row, the ones a failure also misses).
    const turned = list.filter((v) => v.met !== true).map((v) => v.target);
    expect(turned.sort()).toEqual([verdict.target, ...also.map((start) => find(list, start).target)].sort());
  });

  test('the bounds are met exactly at the bound', () => {
    const rows = passing();
    set(rows, 1, 'corsway', { rps: 8_500, rounds: rounds(8_500), peakRss: 108 * MB });
    set(rows, 1, 'cors-anywhere', { rps: 2_125, rounds: rounds(2_125) });
    set(rows, 2, 'corsway', { rps: 900, rounds: rounds(900) });
    expect(judge(rows, [60 * MB]).filter((v) => v.met !== true)).toEqual([]);
  });

  test('idle RSS: the median of the starts is judged, with every start beside it', () => {
    const over = find(judge(passing(), [59 * MB, 61 * MB, 62 * MB]), 'idle RSS');
    expect(over.met).toBe(false);
    expect(over.detail).toBe('61.0 MB, median of 3 starts (59.0–62.0 MB)');
    expect(find(judge(passing(), [70 * MB, 58 * MB, 59 * MB]), 'idle RSS').met).toBe(true);
    expect(find(judge(passing(), []), 'idle RSS').met).toBeNull();
  });

  test('fewer rounds than the target is missed even when each was kept', () => {
    const rows = passing().map((r) => (r.rounds ? { ...r, rounds: r.rounds.slice(0, 3) } : r));
    const verdict = find(judge(rows, IDLE, 3), 'at least 5 interleaved rounds');
    expect(verdict).toEqual({ target: verdict.target, met: false, detail: '3 rounds' });
  });

  test('targets whose rows were not run are "not measured", not met', () => {
    const onlyS7 = passing().filter((r) => r.scenario === 7);
    const list = judge(onlyS7, []);
    expect(find(list, 'scenario 7:').met).toBe(true);
    for (const start of ['scenario 1: corsway at least 0.85×', 'scenario 1: peak RSS', 'idle RSS', 'scenario 4: gzip'])
      expect(find(list, start).met).toBeNull();
    expect(list.some((v) => v.target.startsWith('scenario 2:'))).toBe(false);
  });
});
