import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/*
 * What the kernel says about a CORSWAY_WORKERS primary and its workers, read
 * from /proc (Linux): which processes it runs and which of them hold the
 * connections a client opened.
 */

/**
 * /proc/<pid>/stat: the command name, and the fields after it from `state`
 * on (proc(5) numbers those from 3); null once the process is gone.
 */
export function procStat(pid: number | string): { comm: string; fields: string[] } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces, so split after its last ')'.
  const end = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, end), fields: stat.slice(end + 2).split(' ') };
}

/** The processes whose parent is `pid`, only those whose executable is named `program` when given. */
export function childPids(pid: number, program?: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry); // null: exited while we looked
    if (stat && Number(stat.fields[1]) === pid && (program === undefined || executable(entry) === program)) {
      pids.push(Number(entry));
    }
  }
  return pids.sort((a, b) => a - b);
}

/**
 * The file name of a process's executable. Not its `comm`: Node 24 names its
 * main thread, so a node process's comm reads `MainThread` there.
 */
function executable(pid: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`).split('/').at(-1) ?? null;
  } catch {
    return null; // exited while we looked
  }
}

/** The node processes a primary runs (tsx's esbuild helper is not one). */
export function workerPids(pid: number): number[] {
  return childPids(pid, 'node');
}

/** Of `pids`, those holding an established TCP connection whose local end is `port` on IPv4. */
export function pidsHoldingConnections(pids: readonly number[], port: number): Set<number> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st ... inode (the 10th field); 01 is ESTABLISHED.
    if (fields[1]?.endsWith(local) && fields[3] === '01' && fields[9]) inodes.add(fields[9]);
  }
  const holding = new Set<number>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode && inodes.has(inode)) holding.add(pid);
    }
  }
  return holding;
}

/** Whether process `pid` still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
