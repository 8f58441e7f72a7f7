import { loadShare, type OtherLoad } from './machine-load.ts';

/*
 * How a benchmark's rounds are judged (docs/decisions/benchmark-ranges.md has the
 * measurements behind both thresholds). Other load is the machine's CPU time
 * that went elsewhere during a run, measured directly: to processes the bench
 * did not start, and to the hypervisor's other guests (steal). A run (or slice,
 * or download) during which it took more than OTHER_LOAD_SHARE is taken again
 * at once, up to RETAKES times: that costs the one run, where discarding its
 * round redoes every server's runs. A round is discarded and repeated when:
 * - a run of it was still hit after its retakes;
 * - or the bare relay's figure in it is an outlier against its other rounds:
 *   more than RELAY_SLOW_SHARE below their median. The relay runs no policy, so
 *   a round that slow is load the CPU accounts miss; only slower counts, since
 *   load cannot make a run faster, and the share is wider than the relay's own
 *   swing between rounds on an idle 2-core machine (two levels up to 25% apart).
 */

/** Most of the machine's CPU time (0–1) that other load may take during a run of a kept round. */
export const OTHER_LOAD_SHARE = 0.05;

/** How many times a run that other load hit is taken again at once. */
export const RETAKES = 3;

/** How far below the median of its other rounds the relay's figure may fall (0–1) in a kept round. */
export const RELAY_SLOW_SHARE = 0.3;

/** The rule as the bench prints it beside its results. */
export function roundsRule(otherLoadShare = OTHER_LOAD_SHARE): string {
  return `a run during which other load (other processes' CPU time and the hypervisor's steal) took more than ${pct(otherLoadShare)} of the machine's CPU time is taken again at once, up to ${RETAKES} times; a round is discarded and repeated when a run of it was still hit after that, or when the bare relay's figure in it is more than ${pct(RELAY_SLOW_SHARE)} below the median of its other rounds (the farthest such round, one at a time)`;
}

/** "other processes 1.2%, steal 14.0%": what other load was made of. */
export function loadText(load: OtherLoad): string {
  return `other processes ${pct(load.processes)}, steal ${pct(load.steal)}`;
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** The middle item by `value` (the lower one of an even count): a round that was run, whose other figures go with it. */
export function middleBy<T>(items: readonly T[], value: (item: T) => number): T {
  return [...items].sort((a, b) => value(a) - value(b))[Math.floor((items.length - 1) / 2)] as T;
}

/** The middle value (the lower one of an even count). */
export function middle(values: readonly number[]): number {
  return middleBy(values, (v) => v);
}

/** The median: the mean of the two middle values of an even count, so neither side is favoured. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length / 2;
  return Number.isInteger(half)
    ? ((sorted[half - 1] as number) + (sorted[half] as number)) / 2
    : (sorted[Math.floor(half)] as number);
}

export interface OutlierRule {
  /** How far off the median of the other rounds (0–1) a figure may be. */
  readonly share: number;
  /** `below`: only a figure under the median is an outlier (a throughput, which load only lowers). @default 'either' */
  readonly side?: 'below' | 'either';
}

/**
 * The round to discard, if any: the one whose figure is farthest off the median of
 * the others, when that is more than `rule.share` off (one at a time, so a run
 * never loses every round at once; none below 3 rounds).
 */
export function outlierRound(
  figures: readonly number[],
  rule: OutlierRule = { share: RELAY_SLOW_SHARE, side: 'below' },
): { index: number; off: number } | undefined {
  if (figures.length < 3) return undefined;
  let worst: { index: number; off: number; far: number } | undefined;
  for (const [index, value] of figures.entries()) {
    const mid = median(figures.filter((_, j) => j !== index));
    const off = (value - mid) / mid;
    const far = rule.side === 'below' ? -off : Math.abs(off);
    if (far > rule.share && (!worst || far > worst.far)) worst = { index, off, far };
  }
  return worst && { index: worst.index, off: worst.off };
}

/** One round as judged: the relay's figure in it (none where the relay sits out), and the most other load of its runs. */
export interface JudgedRound {
  readonly relay?: number;
  readonly otherLoad: OtherLoad;
}

/**
 * The round to discard among the kept ones, if any, and why: first one that other
 * load hit, else the relay's slow outlier. `format` prints the relay's figure.
 */
export function roundToDiscard(
  rounds: readonly JudgedRound[],
  format: (n: number) => string,
  otherLoadShare = OTHER_LOAD_SHARE,
): { index: number; why: string } | undefined {
  const loaded = rounds.findIndex((r) => loadShare(r.otherLoad) > otherLoadShare);
  if (loaded >= 0) {
    const load = (rounds[loaded] as JudgedRound).otherLoad;
    return {
      index: loaded,
      why: `other load took ${pct(loadShare(load))} of the machine's CPU time during one of its runs (${loadText(load)})`,
    };
  }
  const relay = rounds.flatMap((r) => (r.relay === undefined ? [] : [r.relay]));
  if (relay.length !== rounds.length) return undefined;
  const outlier = outlierRound(relay);
  if (!outlier) return undefined;
  return {
    index: outlier.index,
    why: `the relay's ${format(relay[outlier.index] as number)} is ${pct(-outlier.off)} below the median of its other rounds`,
  };
}

/** "min–max" of the values, the spread printed beside a median. */
export function spread(values: readonly number[], format: (n: number) => string): string {
  return `${format(Math.min(...values))}–${format(Math.max(...values))}`;
}
