import { describe, expect, test } from 'vitest';
import { middle, outlierRound, spread } from '../../bench/rounds.ts';

describe('bench rounds', () => {
  test('a relay round far off the others is an outlier; steady rounds are kept', () => {
    expect(outlierRound([10_000, 10_400, 6_000, 9_800, 10_100])).toBe(2);
    expect(outlierRound([10_000, 10_400, 9_700, 9_800, 10_100])).toBeUndefined();
    expect(outlierRound([10_000, 13_000, 9_900])).toBe(1);
  });

  test('one round at a time, the farthest: three scattered rounds lose one, not all', () => {
    expect(outlierRound([5_000, 10_000, 20_000])).toBe(2);
  });

  test('fewer than three rounds give nothing to judge against', () => {
    expect(outlierRound([10_000, 3_000])).toBeUndefined();
  });

  test('middle and spread', () => {
    expect(middle([3, 1, 2])).toBe(2);
    expect(middle([4, 1, 3, 2])).toBe(2);
    expect(spread([5, 2, 9], String)).toBe('2–9');
  });
});
