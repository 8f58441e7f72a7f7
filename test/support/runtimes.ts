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
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export type Runtime = 'node' | 'worker';
export type ProxyEnv = Record<string, string>;

/** The runtimes every contract test runs against. */
export const RUNTIMES: readonly Runtime[] = ['node', 'worker'];

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts the proxy on `runtime` with `env` as its CORSWAY_ variables. */
export function startProxy(runtime: Runtime, env: ProxyEnv = {}): Promise<RunningProxy> {
  return runtime === 'node' ? startNode(env) : startWorker(env);
}

/** `npm start`'s command, on a free port of 127.0.0.1. */
export async function startNode(env: ProxyEnv = {}): Promise<RunningProxy> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
    cwd: ROOT,
    env: { ...process.env, CORSWAY_LOG_LEVEL: 'silent', ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return ready(child, 'node', `http://127.0.0.1:${port}`, /listening on/, 20_000);
}

/**
 * `wrangler dev` (workerd), with each variable passed as `--var`.
 * `wranglerArgs` go last, e.g. `['--config', path]` for a config with extra bindings.
 */
export async function startWorker(env: ProxyEnv = {}, wranglerArgs: readonly string[] = []): Promise<RunningProxy> {
  const port = await freePort();
  const vars = Object.entries(env).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  // Fresh local state per start, unless the caller passes its own --persist-to:
  // Durable Object budgets must not carry over from an earlier run by accident.
  const state = wranglerArgs.includes('--persist-to') ? null : await mkdtemp(join(tmpdir(), 'corsway-wrangler-'));
  const child = spawn(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
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
  const url = `http://127.0.0.1:${port}`;
  const proxy = await ready(child, 'worker', url, null, 60_000);
  await waitForHttp(`${url}/healthz`, 60_000, child);
  return {
    ...proxy,
    stop: async () => {
      await proxy.stop();
      if (state) await rm(state, { recursive: true, force: true });
    },
  };
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
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

function ready(
  child: ChildProcess,
  runtime: Runtime,
  url: string,
  line: RegExp | null,
  timeoutMs: number,
): Promise<RunningProxy> {
  let output = '';
  const proxy: RunningProxy = {
    url,
    runtime,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      try {
        if (runtime === 'worker' && child.pid) process.kill(-child.pid, 'SIGTERM');
        else child.kill('SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          if (runtime === 'worker' && child.pid) process.kill(-child.pid, 'SIGKILL');
          else child.kill('SIGKILL');
        } catch {}
      }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void proxy.stop();
      reject(new Error(`${runtime} proxy did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (data: Buffer) => {
      output += data.toString();
      if (line?.test(output)) {
        clearTimeout(timer);
        resolve(proxy);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} proxy exited with ${code}:\n${output}`));
    });
    if (!line) {
      clearTimeout(timer);
      resolve(proxy);
    }
  });
}
