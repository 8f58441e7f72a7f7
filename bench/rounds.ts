/**
 * A round is discarded and repeated when the bare relay's figure in it is off the
 * median of the relay's other kept rounds by more than this share: the relay runs no
 * policy, so a swing in its figure is the machine's load, not any server's code.
 */
export const RELAY_OUTLIER_SHARE = 0.2;

/** The rule as the bench prints it beside its results. */
export const RELAY_OUTLIER_RULE = `a round is discarded and repeated when the bare relay's figure is more than ${RELAY_OUTLIER_SHARE * 100}% off the median of its other rounds (the farthest such round, one at a time)`;

/** The middle value (the lower one of an even count). */
export function middle(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] as number;
}

/**
 * The round to discard, if any: the one whose relay figure is farthest off the median of
 * the others, when that is more than `share` off (one at a time, so a run never loses
 * every round at once; none below 3 rounds).
 */
export function outlierRound(relay: readonly number[], share = RELAY_OUTLIER_SHARE): number | undefined {
  if (relay.length < 3) return undefined;
  let worst: { index: number; off: number } | undefined;
  for (const [index, value] of relay.entries()) {
    const mid = middle(relay.filter((_, j) => j !== index));
    const off = Math.abs(value - mid) / mid;
    if (off > share && (!worst || off > worst.off)) worst = { index, off };
  }
  return worst?.index;
}

/** "min–max" of the values, the spread printed beside a median. */
export function spread(values: readonly number[], format: (n: number) => string): string {
  return `${format(Math.min(...values))}–${format(Math.max(...values))}`;
}
