import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './processes.ts';

/*
 * Drives a URL with wrk (https://github.com/wg/wrk) and reads its summary
 * from a Lua `done` hook, so no human-oriented output is parsed.
 */

/** One request shape, repeated by every wrk connection. */
export interface Load {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Body size in bytes (filled with `x`), for uploads. @default none */
  readonly bodyBytes?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles, in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** Connect, read, write and timeout errors, and responses that were not 2xx/3xx. */
  readonly errors: { readonly socket: number; readonly status: number; readonly timeout: number };
}

export function wrkVersion(): string | null {
  const run = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (run.error) return null;
  return /wrk (\S+)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? 'unknown';
}

const scripts = mkdtempSync(join(tmpdir(), 'corsway-bench-'));
process.on('exit', () => rmSync(scripts, { recursive: true, force: true }));
let scriptCount = 0;

function luaString(text: string): string {
  return JSON.stringify(text); // a JSON string of ASCII is a valid Lua string literal
}

function script(load: Load): string {
  const lines = [`wrk.method = ${luaString(load.method)}`];
  for (const [name, value] of Object.entries(load.headers))
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (load.bodyBytes) lines.push(`wrk.body = string.rep("x", ${load.bodyBytes})`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("BENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\\n",',
    '    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),',
    '    e.connect + e.read + e.write, e.status, e.timeout, summary.bytes))',
    'end',
  );
  const path = join(scripts, `load-${++scriptCount}.lua`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Runs wrk against `url` for `seconds` with `connections` open connections. */
export function wrk(url: string, load: Load, options: { seconds: number; connections: number }): Promise<WrkResult> {
  const args = [
    '-t',
    String(Math.min(2, options.connections)),
    '-c',
    String(options.connections),
    '-d',
    // wrk takes whole seconds only.
    `${Math.max(1, Math.round(options.seconds))}s`,
    // Slow answers are measured, not dropped as timeouts.
    '--timeout',
    '10s',
    '-s',
    script(load),
    url,
  ];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  // wrk stops itself after -d; this only guards against a hung run.
  const guard = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(guard);
      const m = /^BENCH (.+)$/m.exec(output);
      if (code !== 0 || !m) {
        reject(new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${output.slice(-2000)}`));
        return;
      }
      const [requests, micros, p50, p99, socket, status, timeout] = (m[1] as string).split(' ').map(Number) as number[];
      const seconds = (micros as number) / 1e6;
      resolve({
        requests: requests as number,
        seconds,
        rps: (requests as number) / seconds,
        p50: (p50 as number) / 1000,
        p99: (p99 as number) / 1000,
        errors: { socket: socket as number, status: status as number, timeout: timeout as number },
      });
    });
  });
}
