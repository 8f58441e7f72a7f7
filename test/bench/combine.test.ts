import { describe, expect, test } from 'vitest';
import { combineReports } from '../../bench/combine.ts';
import { type Machine, type Row, render, type Settings } from '../../bench/report.ts';

const SETTINGS: Settings = {
  quick: false,
  seconds: 5,
  rounds: 5,
  connections: 50,
  downloadBytes: 1024 * 1024 * 1024,
  idleClients: 1000,
  worker: false,
  nodeWorkers: 2,
  only: null,
  guard: 'namespace',
};

function report(node: string, load: string, corswayRps: number): string {
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
    { scenario: 1, title: 'GET small JSON', server: 'corsway (Node)', role: 'corsway', rps: corswayRps, notes: [] },
    { scenario: 1, title: 'GET small JSON', server: 'bare pass-through', role: 'floor', rps: 9_000, notes: [] },
  ];
  return render(rows, SETTINGS, machine).markdown;
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
    expect(() => combineReports([node20, '# something else\n'])).toThrow(/bench: a report without/);
  });
});
