import { readdirSync, readFileSync } from 'node:fs';
import { procStat } from '../test/support/workers.ts';

/*
 * How much of the machine's CPU processes outside this benchmark used during a
 * run (Linux /proc): the burst of other load a round is discarded for.
 */

/** CPU time counters, in clock ticks summed over every core. */
export interface LoadMark {
  /** Used by every user-space process outside the bench, exited ones included. */
  readonly others: number;
  /** Taken by the hypervisor for its other guests: load too. */
  readonly steal: number;
  /** Every tick of every core, idle ones included: the machine's capacity. */
  readonly total: number;
}

/** Each process's CPU ticks (utime + stime + cutime + cstime) and its children. */
function processes(): { ticks: Map<number, number>; children: Map<number, number[]> } {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(entry)?.fields; // undefined: exited while we looked
    if (!fields) continue;
    const pid = Number(entry);
    const parent = Number(fields[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
    // An exited child's time goes to its parent's cutime/cstime once reaped (wrk, a compiler run).
    ticks.set(pid, Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]));
  }
  return { ticks, children };
}

/** `root` and every process under it. */
function tree(root: number, children: Map<number, number[]>): Set<number> {
  const found = new Set<number>();
  const queue = [root];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** CPU ticks of this process and every process under it, exited ones included. */
export function ownTicks(root = process.pid): number {
  const { ticks, children } = processes();
  let sum = 0;
  for (const pid of tree(root, children)) sum += ticks.get(pid) ?? 0;
  return sum;
}

/**
 * The counters now. Other load is counted by process, not as the machine's busy
 * time less the bench's own: the kernel accounts the bench's loopback traffic
 * partly to softirq threads and idle cores, which would read as other load. Kernel
 * threads (kthreadd, pid 2, and its children) are left out for that reason.
 */
export function markLoad(root = process.pid): LoadMark {
  const { ticks, children } = processes();
  const excluded = new Set([...tree(root, children), ...tree(2, children)]);
  let others = 0;
  for (const [pid, used] of ticks) if (!excluded.has(pid)) others += used;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = (
    readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string
  )
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number) as number[];
  const total = [user, nice, system, idle, iowait, irq, softirq, steal].reduce(
    (a, b) => (a as number) + (b as number),
    0,
  );
  return { others, steal: steal as number, total: total as number };
}

/** Shares (0–1) of the machine's CPU time between two marks that the bench did not get. */
export interface OtherLoad {
  /** Used by processes outside the bench. */
  readonly processes: number;
  /** Taken by the hypervisor for its other guests: no process here can be stopped to avoid it. */
  readonly steal: number;
}

export const NO_LOAD: OtherLoad = { processes: 0, steal: 0 };

/** The other load between two marks, by source. */
export function otherLoad(before: LoadMark, after: LoadMark): OtherLoad {
  const total = after.total - before.total;
  if (total <= 0) return NO_LOAD;
  const share = (ticks: number) => Math.max(0, ticks) / total;
  return { processes: share(after.others - before.others), steal: share(after.steal - before.steal) };
}

/** The whole share of the machine that other load took. */
export function loadShare(load: OtherLoad): number {
  return load.processes + load.steal;
}

/** The heavier of two loads. */
export function heavier(a: OtherLoad, b: OtherLoad): OtherLoad {
  return loadShare(b) > loadShare(a) ? b : a;
}
