import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { childPids, procStat } from '../test/support/workers.ts';

/** One line of soak/probe.mjs. */
export interface ProbeSample {
  pid: number;
  t: number;
  rss: number;
  heap: number;
  /** Event-loop delay p99 over the last second, ms. */
  p99: number;
}

export function readProbe(file: string): ProbeSample[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ProbeSample);
}

/** `pid` and all its descendants (a cluster's workers, wrangler's workerd). */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length && i < 64; i++) all.push(...childPids(all[i] as number));
  return all;
}

/**
 * Open file descriptors and, of those, sockets and files on disk, summed over `pids`;
 * `by` names each process's share, `kinds` what they are (socket, pipe, anon_inode:[eventfd], file).
 */
export function openFiles(pids: readonly number[]): {
  fds: number;
  sockets: number;
  files: number;
  by: string;
  kinds: string;
} {
  let fds = 0;
  let sockets = 0;
  let files = 0;
  const shares: string[] = [];
  const kinds = new Map<string, number>();
  for (const pid of pids) {
    const before = fds;
    let entries: string[];
    try {
      entries = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of entries) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed between the listing and the read: not open any more
      }
      fds++;
      if (link.startsWith('socket:')) sockets++;
      if (link.startsWith('/')) files++;
      const kind = link.startsWith('/') ? 'file' : link.replace(/:\[\d+\]$/, '');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    shares.push(`${procStat(pid)?.comm ?? pid} ${fds - before}`);
  }
  const kindList = [...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ');
  return { fds, sockets, files, by: shares.join(', '), kinds: kindList };
}

/** Resident set of `pid` in bytes from /proc (for processes without the probe: workerd). */
export function rssOf(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return line ? Number(line[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of `y` over `t` (ms), in units of y per minute; null with fewer than 3 points. */
export function slopePerMinute(points: readonly { t: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The last sample at or before each tenth of [start, start + span], in MiB: a curve to read by eye. */
export function curve(points: readonly { t: number; y: number }[], start: number, span: number): string {
  const tenths: string[] = [];
  for (let i = 0; i <= 10; i++) {
    const at = points.filter((p) => p.t <= start + (i / 10) * span).at(-1);
    tenths.push(at ? (at.y / 1024 / 1024).toFixed(0) : '-');
  }
  return tenths.join(' ');
}
