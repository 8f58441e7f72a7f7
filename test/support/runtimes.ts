import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running proxy: its base URL (no trailing slash) and how to stop it. */
export interface RunningProxy {
  readonly url: string;
  readonly runtime: Runtime;
  /** The process started: node, or wrangler for a Worker. */
  readonly pid: number;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, SIGKILL 5 s later; resolves with the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
}

export type Runtime = 'node' | 'worker';
export type ProxyEnv = Record<string, string>;

/** The runtimes every contract test runs against. */
export const RUNTIMES: readonly Runtime[] = ['node', 'worker'];

/*
 * Ports for processes that must be told theirs up front (wrangler dev,
 * redis-server). Asking the kernel for port 0 and handing that number on is a
 * race: it comes from the ephemeral range, which every outgoing connection of
 * the parallel test files also draws from, and CI once lost it to one. So the
 * port is picked below Linux's ephemeral range (32768 and up), in a band of its
 * own for each vitest worker, never twice in a process, and checked by binding.
 */
const BAND = 1_500;
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? 0) % 8;
  const low = 20_000 + worker * BAND;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * BAND);
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${low + BAND}`);
}

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) {
    server.close();
    await once(server, 'close');
  }
  return bound;
}

/** Starts the proxy on `runtime` with `env` as its CORSWAY_ variables. */
export function startProxy(runtime: Runtime, env: ProxyEnv = {}): Promise<RunningProxy> {
  return runtime === 'node' ? startNode(env) : startWorker(env);
}

/** The variable naming the run's build of src/, a directory laid out as dist/ (node-build.ts). */
export const NODE_BUILD = 'CORSWAY_TESTS_NODE_BUILD';

/**
 * The Node proxy on a port of 127.0.0.1 the kernel picks (PORT=0), read back
 * from its first line: the run's build of src/ when vitest made one
 * (node-build.ts), else `npm start`'s command, the sources through tsx.
 */
export async function startNode(env: ProxyEnv = {}): Promise<RunningProxy> {
  const build = process.env[NODE_BUILD];
  const entry = build ? [join(build, 'node/main.js')] : ['--import', 'tsx', 'src/node/main.ts'];
  const child = spawn(process.execPath, entry, {
    cwd: ROOT,
    env: { ...process.env, CORSWAY_LOG_LEVEL: 'silent', ...env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // As long as wrangler gets: on a machine shared by several test runs, a start took over 20 s.
  const proxy = await ready(child, 'node', /listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  // The app's pages load on their first request (docs/decisions/idle-rss.md); through
  // tsx on a busy machine that took seconds, so tests start with them loaded, as on the Worker.
  try {
    await waitForHttp(`${proxy.url}/healthz`, 60_000, child);
  } catch (error) {
    await proxy.stop();
    throw error;
  }
  return proxy;
}

/**
 * Any command that starts the Node proxy (`npm start -- <flags>`, `npx .`), in
 * its own process group so that stopping it stops node under npm; resolves
 * once its output matches `listening`, whose first group is the URL.
 */
export function startCommand(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  listening: RegExp,
  cwd = ROOT,
): Promise<RunningProxy> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return ready(child, 'node', listening, 60_000, true);
}

/** A command run to its end within `timeoutMs` (then killed with its group): exit code and output. */
export async function runToExit(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const timer = setTimeout(() => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * `wrangler dev` (workerd), with each variable passed as `--var`.
 * `wranglerArgs` go last, e.g. `['--config', path]` for a config with extra bindings.
 */
export async function startWorker(env: ProxyEnv = {}, wranglerArgs: readonly string[] = []): Promise<RunningProxy> {
  // wrangler.toml ships a rate limit for a safe first deploy; the tests start from the code's defaults, as on Node.
  const vars = Object.entries({ CORSWAY_RATE_LIMIT: '', ...env }).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  // Fresh local state per start, unless the caller passes its own --persist-to:
  // Durable Object budgets must not carry over from an earlier run by accident.
  const state = wranglerArgs.includes('--persist-to') ? null : await mkdtemp(join(tmpdir(), 'corsway-wrangler-'));
  // Port 0: wrangler binds a port of its own choosing and names it in its "Ready on" line,
  // so a server started by another test run can never be taken for this one.
  const child = spawn(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '0',
      '--inspector-port',
      '0',
      '--show-interactive-dev-session=false',
      '--log-level',
      'info',
      ...(state ? ['--persist-to', state] : []),
      ...vars,
      ...wranglerArgs,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stopping it also stops workerd.
      detached: true,
    },
  );
  const proxy = await ready(child, 'worker', /Ready on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  await waitForHttp(`${proxy.url}/healthz`, 60_000, child);
  return {
    ...proxy,
    stop: async () => {
      const code = await proxy.stop();
      if (state) await rm(state, { recursive: true, force: true });
      return code;
    },
  };
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the proxy exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      const body = await res.text();
      // A misconfigured Worker is up too: it answers every request with invalid_config.
      if (res.ok || (res.status === 500 && body.includes('"invalid_config"'))) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Resolves once `child` is up: at once when its URL is known, else when its
 * output matches `listening`, whose first group is the URL.
 */
function ready(
  child: ChildProcess,
  runtime: Runtime,
  listening: string | RegExp,
  timeoutMs: number,
  group = runtime === 'worker',
): Promise<RunningProxy> {
  let output = '';
  const proxy: RunningProxy = {
    url: typeof listening === 'string' ? listening : '',
    runtime,
    pid: child.pid ?? 0,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      try {
        if (group && child.pid) process.kill(-child.pid, 'SIGTERM');
        else child.kill('SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
          else child.kill('SIGKILL');
        } catch {}
      }, 5_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void proxy.stop();
      reject(new Error(`${runtime} proxy did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (data: Buffer) => {
      output += data.toString();
      const found = typeof listening === 'string' ? null : listening.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve({ ...proxy, url: found[1] as string });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} proxy exited with ${code}:\n${output}`));
    });
    if (typeof listening === 'string') {
      clearTimeout(timer);
      resolve(proxy);
    }
  });
}
