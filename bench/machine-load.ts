import { readdirSync, readFileSync } from 'node:fs';
import { procStat } from '../test/support/workers.ts';

/*
 * How much of the machine's CPU processes outside this benchmark used during a
 * run (Linux /proc): the burst of other load a round is discarded for.
 */

/** CPU time counters, in clock ticks summed over every core. */
export interface LoadMark {
  /** The machine's busy time: user, nice, system, irq, softirq and steal (a hypervisor's other guests are load too). */
  readonly busy: number;
  /** Every tick, idle ones included: the machine's capacity. */
  readonly total: number;
  /** Used by this process and every process under it, exited ones included. */
  readonly own: number;
}

/**
 * The `cpu` line of /proc/stat. irq and softirq count as busy: with tick-based
 * accounting (no CONFIG_IRQ_TIME_ACCOUNTING) the kernel also charges them to the
 * task they interrupted, so the bench's own loopback traffic is in its processes'
 * time; where irq time is accounted apart, that traffic reads as other load,
 * which discards a round rather than keeps one.
 */
function machineTicks(): { busy: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = (
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string
  )
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number) as number[];
  const busy =
    (user as number) +
    (nice as number) +
    (system as number) +
    (irq as number) +
    (softirq as number) +
    (steal as number);
  return { busy, total: busy + (idle as number) + (iowait as number) };
}

/**
 * CPU ticks of this process and its descendants: utime + stime of each live one,
 * plus cutime + cstime, where an exited child's time goes once its parent reaps it
 * (wrk, a finished download client).
 */
export function ownTicks(root = process.pid): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(entry)?.fields; // undefined: exited while we looked
    if (!fields) continue;
    const pid = Number(entry);
    const parent = Number(fields[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
    ticks.set(pid, Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]));
  }
  let sum = 0;
  const queue = [root];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    sum += ticks.get(pid) ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return sum;
}

export function markLoad(): LoadMark {
  return { ...machineTicks(), own: ownTicks() };
}

/** The share (0–1) of the machine's CPU time used by processes outside the bench between two marks. */
export function otherLoad(before: LoadMark, after: LoadMark): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.max(0, after.busy - before.busy - (after.own - before.own)) / total;
}
