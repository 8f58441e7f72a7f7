import { describe, expect, test } from 'vitest';
import { median, middle, OTHER_LOAD_SHARE, outlierRound, roundToDiscard, spread } from '../../bench/rounds.ts';

const reqs = (n: number) => `${n} req/s`;
/** Other load of a run, all of it other processes'. */
const processes = (share: number) => ({ processes: share, steal: 0 });
/** Rounds no other load touched, from the relay's figures. */
const quiet = (relay: readonly number[]) => relay.map((r) => ({ relay: r, otherLoad: processes(0.01) }));

describe('bench rounds: which round is discarded', () => {
  test.each([
    // The last quiet full run's kept relay rounds (BENCHMARKS.md, Node 20 and Node 24):
    // the relay's own swing between its two levels, nothing to discard.
    { name: 'S1 Node 20, three kept', relay: [6_229, 5_554, 6_346], index: undefined },
    { name: 'S3 Node 20: 2,048 is 19% below', relay: [2_331, 2_576, 2_485, 2_689, 2_048], index: undefined },
    { name: 'S8 Node 20', relay: [5_342, 5_121, 4_318, 4_771, 5_716], index: undefined },
    { name: 'S1 Node 24', relay: [4_883, 5_583, 5_100, 5_912], index: undefined },
    { name: 'S7 Node 24, two levels', relay: [326, 420, 335, 415, 330], index: undefined },
    // Two levels 25% apart: the old rule (20% either way) discarded the low level's rounds.
    { name: 'two levels 25% apart', relay: [6_300, 5_000, 6_250, 5_050, 6_350], index: undefined },
    { name: 'a low level the median sits in', relay: [5_000, 6_300, 5_050, 6_250, 4_950], index: undefined },
    // Slower by more than 30%: load the CPU accounts missed.
    { name: 'one round 40% slow', relay: [10_000, 10_400, 6_000, 9_800, 10_100], index: 2 },
    { name: 'the farthest of two slow rounds first', relay: [10_000, 6_500, 5_000, 9_800, 10_100], index: 2 },
    { name: 'three rounds, one 35% slow', relay: [10_000, 6_500, 10_100], index: 1 },
    // Faster is never load.
    { name: 'one round 60% fast', relay: [10_000, 16_000, 9_900, 10_100, 9_800], index: undefined },
    { name: 'fewer than three rounds', relay: [10_000, 3_000], index: undefined },
  ])('$name', ({ relay, index }) => {
    expect(roundToDiscard(quiet(relay), reqs)?.index).toBe(index);
  });

  test.each([
    { name: 'the newest round, hit by load', loads: [0.01, 0.02, 0.12], index: 2 },
    { name: 'just over the line', loads: [0.01, OTHER_LOAD_SHARE + 0.001], index: 1 },
    { name: 'at the line', loads: [0.01, OTHER_LOAD_SHARE], index: undefined },
    { name: 'a single round', loads: [0.3], index: 0 },
  ])('other load: $name', ({ loads, index }) => {
    // The relay's figures look steady: other load alone decides.
    const rounds = loads.map((share) => ({ relay: 10_000, otherLoad: processes(share) }));
    expect(roundToDiscard(rounds, reqs)?.index).toBe(index);
  });

  test('a round other load hit goes first, even when another is a slow relay outlier', () => {
    const rounds = [
      { relay: 10_000, otherLoad: processes(0) },
      { relay: 5_000, otherLoad: processes(0) },
      { relay: 10_100, otherLoad: processes(0) },
      { relay: 9_900, otherLoad: { processes: 0.015, steal: 0.185 } },
    ];
    expect(roundToDiscard(rounds, reqs)).toEqual({
      index: 3,
      why: "other load took 20% of the machine's CPU time during one of its runs (other processes 1.5%, steal 18.5%)",
    });
    expect(roundToDiscard(rounds.slice(0, 3), reqs)).toEqual({
      index: 1,
      why: "the relay's 5000 req/s is 50.2% below the median of its other rounds",
    });
  });

  test('steal is other load too: the hypervisor took the time from every process here', () => {
    const rounds = [0, 0.03, 0].map((steal) => ({ relay: 10_000, otherLoad: { processes: 0.03, steal } }));
    expect(roundToDiscard(rounds, reqs)?.index).toBe(1);
  });

  test('where the relay sits out (preflights), only other load is judged', () => {
    const none = { otherLoad: processes(0) };
    expect(roundToDiscard([none, none, none], reqs)).toBeUndefined();
    expect(roundToDiscard([none, { otherLoad: processes(0.5) }], reqs)?.index).toBe(1);
  });

  test('a looser load check (BENCH_OTHER_LOAD) keeps what the default discards', () => {
    expect(roundToDiscard([{ relay: 1, otherLoad: processes(0.3) }], reqs, 0.5)).toBeUndefined();
  });

  test('either side, 20%: the rule bench:workerd judges CPU per request by', () => {
    expect(outlierRound([1.0, 1.3, 1.02], { share: 0.2 })?.index).toBe(1);
    expect(outlierRound([1.0, 0.7, 1.02], { share: 0.2 })?.index).toBe(1);
    expect(outlierRound([1.0, 1.1, 1.02], { share: 0.2 })).toBeUndefined();
  });
});

describe('bench rounds: figures', () => {
  test('middle, median and spread', () => {
    expect(middle([3, 1, 2])).toBe(2);
    expect(middle([4, 1, 3, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([3, 1, 2])).toBe(2);
    expect(spread([5, 2, 9], String)).toBe('2–9');
  });
});
