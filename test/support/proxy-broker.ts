import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { type ProxyEnv, type RunningProxy, type Runtime, startProxy } from './runtimes.ts';

/*
 * vitest globalSetup: one proxy per (runtime, env) for the whole run, started
 * on the first file's request and stopped after the last file. Each wrangler
 * dev start costs seconds of CPU (a bundle and two workerd processes); files
 * whose cases need nothing but a proxy with the same settings and no state
 * between requests (no rate limit, no cache) share one. `sharedProxy()` in
 * shared-proxy.ts asks for it over loopback HTTP.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The broker's URL: POST it {runtime, env} for a shared proxy's URL. */
    proxyBroker: string;
  }
}

/** What the broker answers: the shared proxy's URL, or why it did not start. */
export type BrokerAnswer = { url: string } | { error: string };

/** The same settings in any order are one proxy. */
export function proxyKey(runtime: Runtime, env: ProxyEnv): string {
  return JSON.stringify([runtime, Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

async function readJson(req: IncomingMessage): Promise<{ runtime: Runtime; env: ProxyEnv }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const proxies = new Map<string, Promise<RunningProxy>>();
  const server = createServer(async (req, res) => {
    let answer: BrokerAnswer;
    try {
      const { runtime, env } = await readJson(req);
      const key = proxyKey(runtime, env);
      let started = proxies.get(key);
      if (!started) {
        started = startProxy(runtime, env);
        proxies.set(key, started);
      }
      answer = { url: (await started).url };
    } catch (error) {
      answer = { error: error instanceof Error ? error.message : String(error) };
    }
    res.writeHead('url' in answer ? 200 : 500, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  project.provide('proxyBroker', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return async () => {
    server.close();
    await Promise.all(
      [...proxies.values()].map((started) =>
        started.then(
          (p) => p.stop(),
          () => null,
        ),
      ),
    );
  };
}
