import type { Check } from './faults.ts';
import { percentile } from './measure.ts';
import type { Kind, Outcome } from './scenarios.ts';

/** Everything one run gathered, keyed by scenario. */
export class Tally {
  readonly outcomes = new Map<string, Map<string, { count: number; expected: boolean }>>();
  /** Latencies (ms) of clean scenarios answered ok, by whether fault scenarios ran beside them. */
  readonly latency = new Map<string, { quiet: number[]; faults: number[] }>();
  verifiedBytes = 0;
  unexpected = 0;
  corrupted = 0;
  /** Connections lost while a worker was killed. */
  lostToKill = 0;

  add(scenario: string, kind: Kind, outcome: Outcome, faultsBeside: boolean): void {
    const byOutcome = this.outcomes.get(scenario) ?? new Map();
    this.outcomes.set(scenario, byOutcome);
    const entry = byOutcome.get(outcome.outcome) ?? { count: 0, expected: outcome.expected };
    entry.count++;
    byOutcome.set(outcome.outcome, entry);
    this.verifiedBytes += outcome.verified;
    if (!outcome.expected) this.unexpected++;
    if (outcome.outcome === 'corrupted') this.corrupted++;
    if (outcome.outcome.endsWith('(worker killed)')) this.lostToKill++;
    if (kind === 'clean' && outcome.outcome === 'ok') {
      const lat = this.latency.get(scenario) ?? { quiet: [], faults: [] };
      this.latency.set(scenario, lat);
      (faultsBeside ? lat.faults : lat.quiet).push(outcome.ms);
    }
  }

  total(): number {
    let n = 0;
    for (const byOutcome of this.outcomes.values()) for (const { count } of byOutcome.values()) n += count;
    return n;
  }
}

const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)}`);
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function printOutcomes(tally: Tally): void {
  console.log(`\n  requests by scenario and outcome (${tally.total()} in all; ! = unexpected)`);
  for (const [scenario, byOutcome] of tally.outcomes) {
    const parts = [...byOutcome].map(([outcome, { count, expected }]) => `${expected ? '' : '!'}${outcome} ${count}`);
    console.log(`    ${scenario.padEnd(30)} ${parts.join(', ')}`);
  }
  console.log(`  bytes verified by SHA-256: ${mib(tally.verifiedBytes)}, corrupted responses: ${tally.corrupted}`);
}

export function printLatency(tally: Tally): void {
  console.log('\n  latency of clean scenarios, ms: p50 / p99 without faults | with faults beside');
  for (const [scenario, { quiet, faults }] of tally.latency) {
    const q = `${ms(percentile(quiet, 50))} / ${ms(percentile(quiet, 99))}`;
    const f = `${ms(percentile(faults, 50))} / ${ms(percentile(faults, 99))}`;
    console.log(`    ${scenario.padEnd(30)} ${q.padEnd(20)} | ${f}   (n=${quiet.length}|${faults.length})`);
  }
}

export function printChecks(title: string, checks: readonly Check[]): { passed: number; failed: number } {
  console.log(`\n  ${title}`);
  for (const check of checks) console.log(`    ${check.passed ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
  const passed = checks.filter((c) => c.passed).length;
  return { passed, failed: checks.length - passed };
}
