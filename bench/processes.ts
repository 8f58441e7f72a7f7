import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childPids, procStat } from '../test/support/workers.ts';

/*
 * The servers a benchmark run starts, and the promise that it stops every one
 * of them, whatever way the run ends.
 */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The node every server under test runs on: `BENCH_NODE` (the path of a node
 * binary, as `npm run bench:both` passes Node 24's), else the one running the bench.
 */
export const SERVER_NODE = process.env.BENCH_NODE || process.execPath;

/** `v24.21.0`: the version of a node binary (SERVER_NODE by default), or null when it does not run. */
export function serverNodeVersion(node = SERVER_NODE): string | null {
  const ran = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return ran.status === 0 ? ran.stdout.trim() : null;
}

/** A server process the benchmark started. */
export interface Service {
  readonly name: string;
  readonly pid: number;
  /** `http://127.0.0.1:<port>` or the address it listens on. */
  readonly origin: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/**
 * Runs `<script>` with `env` on `node` (TypeScript through tsx, JavaScript as
 * it is) and waits for its "listening" line, which names the port.
 */
export function startService(
  name: string,
  script: string,
  env: Record<string, string>,
  host: string,
  { timeoutMs = 30_000, node = SERVER_NODE }: { timeoutMs?: number; node?: string } = {},
): Promise<Service> {
  const args = /\.m?js$/.test(script) ? [script] : ['--import', 'tsx', script];
  const child = spawn(node, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`${name} ${why}:\n${output.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const onData = (data: Buffer) => {
      output = (output + data.toString()).slice(-8000);
      const m = /listening (?:on http:\/\/\S+:)?(\d+)/.exec(output);
      if (m && child.pid) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        // Keep draining, so a chatty child never blocks on a full pipe.
        child.stdout?.resume();
        child.removeAllListeners('exit');
        child.once('exit', () => running.delete(child));
        const address = host.includes(':') ? `[${host}]` : host;
        resolve({ name, pid: child.pid, origin: `http://${address}:${m[1]}`, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => {
      output = (output + data.toString()).slice(-8000);
    });
    child.once('exit', (code) => fail(`exited with ${code}`));
  });
}

/** Registers a process started elsewhere, so it is killed if the run dies. */
export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

const stoppers = new Set<() => Promise<unknown>>();

/** Registers how to stop something started elsewhere (wrangler dev), for a run cut short. */
export function onInterrupt(stop: () => Promise<unknown>): () => void {
  stoppers.add(stop);
  return () => {
    stoppers.delete(stop);
  };
}

/** Kills what is still running: the last resort on exit and errors. */
function killAll(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
// Interrupted: ask everything to stop (a child in the namespace passes it on to
// its own children), then exit; whatever is left after 10 s is killed.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGTERM');
    const stopped = Promise.allSettled([...stoppers].map((stop) => stop()));
    const exited = new Promise<void>((resolve) => {
      const poll = () => (running.size === 0 ? resolve() : setTimeout(poll, 50));
      poll();
    });
    const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    void Promise.race([Promise.all([stopped, exited]), deadline]).then(() => process.exit(130));
  });
}

/**
 * `pid` and its children: a server is every process it runs (CORSWAY_WORKERS
 * forks workers), so its CPU time and memory are theirs summed.
 */
export function processTree(pid: number): number[] {
  return [pid, ...childPids(pid)];
}

/** A server's current and peak resident set, summed over its processes, in bytes (Linux /proc). */
export function memory(pid: number): { rss: number; peak: number } | null {
  let rss = 0;
  let peak = 0;
  for (const member of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      rss += kb('VmRSS');
      // Each process's own peak: their sum bounds the tree's peak from above.
      peak += kb('VmHWM');
    } catch {
      if (member === pid) return null;
    }
  }
  return { rss, peak };
}

/**
 * Resets the kernel's peak-RSS marks (VmHWM) so they cover only what follows
 * (proc(5), clear_refs value 5). False where the kernel does not allow it.
 */
export function resetPeak(pid: number): boolean {
  try {
    for (const member of processTree(pid)) writeFileSync(`/proc/${member}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * A server's peak RSS from now until the returned function is called: the
 * kernel's VmHWM when it could be reset now (exact, and nothing to sample),
 * else the highest RSS sampled every 50 ms.
 */
export function watchMemory(pid: number): () => number {
  if (resetPeak(pid)) return () => memory(pid)?.peak ?? 0;
  let peak = memory(pid)?.rss ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, memory(pid)?.rss ?? 0);
  }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, memory(pid)?.rss ?? 0);
  };
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU time (user + system) a server's processes have used so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number | null {
  let ticks = 0;
  for (const member of processTree(pid)) {
    const fields = procStat(member)?.fields;
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
    else if (member === pid) return null;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time a server's processes have spent on a core so far, in nanoseconds:
 * the scheduler's own account, summed over every thread
 * (`/proc/<pid>/task/<tid>/schedstat`, first field), not cpuMs's 10 ms ticks.
 * A thread that has exited drops out of the sum, so compare only across
 * spans where the threads live on (a workerd serving requests keeps its threads).
 */
export function cpuNs(pid: number): number | null {
  let ns = 0;
  for (const member of processTree(pid)) {
    try {
      for (const task of readdirSync(`/proc/${member}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${member}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
        } catch {} // that thread ended while we looked
      }
    } catch {
      if (member === pid) return null;
    }
  }
  return ns;
}
