import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type ProxyEnv, type RunningProxy, type Runtime, startProxy } from './runtimes.ts';
import { buildBundle, startWorkerd } from './workerd.ts';

/*
 * vitest globalSetup: the run's proxies live in this process, so that every
 * one of them is stopped after the run, even when a file is filtered out
 * with -t before its afterAll could run, or fails half way.
 *
 * - POST /shared {runtime, env}: one proxy per (runtime, env) for the whole
 *   run, started on the first file's request. Each wrangler dev start costs
 *   seconds of CPU (a bundle and two workerd processes); files whose cases
 *   need nothing but a proxy with the same settings and no state between
 *   requests (no rate limit, no cache) share one.
 * - POST /fresh {runtime, env}: a proxy of the file's own; its Worker is the
 *   run's bundle in plain workerd (docs/decisions/test-wall-time.md).
 * - POST /stop {id}: stops a fresh proxy.
 * - POST /bundle: the Worker bundle, built once for the run.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The broker's URL, ending in '/'. */
    proxyBroker: string;
  }
}

/** What the broker answers: the proxy's URL (and a fresh one's id), the bundle's path, or why it failed. */
export type BrokerAnswer = { url: string; id?: number } | { bundle: string } | { stopped: true } | { error: string };

export interface BrokerRequest {
  runtime?: Runtime;
  env?: ProxyEnv;
  /** /fresh: the Worker in wrangler dev instead of plain workerd. */
  wranglerDev?: boolean;
  id?: number;
}

/** The same settings in any order are one proxy. */
export function proxyKey(runtime: Runtime, env: ProxyEnv): string {
  return JSON.stringify([runtime, Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

/**
 * A file's own Worker: the bundle in plain workerd, with the Durable Object
 * wrangler.toml binds, and CF-Connecting-IP set as Cloudflare's edge (and
 * wrangler dev, for a client on 127.0.0.1) sets it.
 */
function startFresh(
  { runtime = 'node', env = {}, wranglerDev = false }: BrokerRequest,
  bundle: () => Promise<string>,
): Promise<RunningProxy> {
  if (runtime === 'node' || wranglerDev) return startProxy(runtime, env);
  return bundle().then((path) => startWorkerd(path, env, { budgets: 'memory', clientAddress: '127.0.0.1' }));
}

async function readJson(req: IncomingMessage): Promise<BrokerRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = new Map<string, Promise<RunningProxy>>();
  const fresh = new Map<number, Promise<RunningProxy>>();
  // Interrupted (Ctrl-C), vitest exits without its teardown: what is running is killed on the way out.
  const running = new Set<number>();
  const track = (started: Promise<RunningProxy>) => {
    started.then((p) => running.add(p.pid)).catch(() => {});
    return started;
  };
  const killRunning = () => {
    for (const pid of running) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL'); // -pid: wrangler dev's process group, with its workerd
        } catch {}
      }
    }
  };
  process.once('exit', killRunning);
  let issued = 0;
  let built: Promise<string> | undefined;
  const bundle = () => {
    built ??= buildBundle();
    return built;
  };

  async function answer(path: string | undefined, request: BrokerRequest) {
    const { runtime = 'node', env = {}, id = 0 } = request;
    switch (path) {
      case '/shared': {
        const key = proxyKey(runtime, env);
        let started = shared.get(key);
        if (!started) {
          started = track(startProxy(runtime, env));
          shared.set(key, started);
        }
        return { url: (await started).url };
      }
      case '/fresh': {
        const started = track(startFresh(request, bundle));
        const next = ++issued;
        fresh.set(next, started);
        return { url: (await started).url, id: next };
      }
      case '/stop': {
        const started = fresh.get(id);
        fresh.delete(id);
        const proxy = await started?.catch(() => undefined);
        await proxy?.stop();
        if (proxy) running.delete(proxy.pid);
        return { stopped: true } as const;
      }
      case '/bundle':
        return { bundle: await bundle() };
      default:
        throw new Error(`no such broker path: ${path}`);
    }
  }
  // A request can still be on its way when the run ends (a file that ran no test): it starts nothing then.
  let closing = false;
  const handling = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handled = (async () => {
      let reply: BrokerAnswer;
      try {
        const request = await readJson(req);
        if (closing) throw new Error('the run is over');
        reply = await answer(req.url, request);
      } catch (error) {
        reply = { error: error instanceof Error ? error.message : String(error) };
      }
      res.writeHead('error' in reply ? 500 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    })();
    handling.add(handled);
    void handled.finally(() => handling.delete(handled));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  project.provide('proxyBroker', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return async () => {
    closing = true;
    process.off('exit', killRunning);
    server.close();
    await Promise.allSettled(handling);
    await Promise.all(
      [...shared.values(), ...fresh.values()].map((started) =>
        started.then(
          (p) => p.stop(),
          () => null,
        ),
      ),
    );
    const path = await built?.catch(() => undefined);
    if (path) await rm(dirname(path), { recursive: true, force: true });
  };
}
