import { afterAll, beforeAll, inject } from 'vitest';
import type { BrokerAnswer, BrokerRequest } from './proxy-broker.ts';
import type { ProxyEnv, RunningProxy, Runtime } from './runtimes.ts';

/** A proxy shared by the files of a run: where it listens, not how to stop it (the run does). */
export type SharedProxy = Pick<RunningProxy, 'url' | 'runtime'>;

/** A file's own proxy, started by the run's broker: where it listens and how to stop it early. */
export interface FreshProxy extends SharedProxy {
  stop(): Promise<void>;
}

/**
 * The run's proxy for `runtime` with `env` (proxy-broker.ts), asked for as
 * soon as the suite is collected, so that a file's runtimes start side by
 * side. Only for suites that leave no state behind in the proxy: with a rate
 * limit or a cache, a file needs its own (freshProxy).
 */
export function sharedProxy(runtime: Runtime, env: ProxyEnv = {}): Promise<SharedProxy> {
  return early(ask('shared', { runtime, env }).then(({ url }) => ({ url, runtime })));
}

export interface FreshOptions {
  /**
   * The Worker in wrangler dev, for suites that need its local layer: it sets
   * CF-Connecting-IP from each client's socket address. @default false: plain workerd
   */
  wranglerDev?: boolean;
}

/**
 * A proxy of the suite's own for `runtime` with `env`, asked for as soon as
 * the suite is collected; stopped after the suite, or after the run when the
 * suite never ran (filtered out with -t). The Worker is the run's bundle in
 * plain workerd, not wrangler dev (docs/decisions/test-wall-time.md).
 */
export function freshProxy(
  runtime: Runtime,
  env: ProxyEnv = {},
  { wranglerDev = false }: FreshOptions = {},
): Promise<FreshProxy> {
  const started = early(
    ask('fresh', { runtime, env, wranglerDev }).then(({ url, id }) => ({
      url,
      runtime,
      stop: async () => {
        await ask('stop', { id });
      },
    })),
  );
  afterAll(async () => {
    await (await started.catch(() => undefined))?.stop();
  });
  return started;
}

/** A server a suite starts before its tests and stops after them (an Upstream, a trap). */
export interface SuiteServer {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
}

/**
 * The enclosing suite's proxy: `servers` started and `started` awaited before
 * its tests, the servers stopped after them (a fresh proxy stops itself). Its
 * URL is read in the tests, once it is up.
 */
export function suiteProxy(started: Promise<SharedProxy>, ...servers: SuiteServer[]): SharedProxy {
  let up: SharedProxy | undefined;
  beforeAll(async () => {
    await Promise.all(servers.map((server) => server.start()));
    up = await started;
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });
  const ready = (): SharedProxy => {
    if (!up) throw new Error('the suite proxy is read before its beforeAll');
    return up;
  };
  return {
    get url() {
      return ready().url;
    },
    get runtime() {
      return ready().runtime;
    },
  };
}

/** The Worker bundle `wrangler deploy` would ship, built once for the run. */
export async function runBundle(): Promise<string> {
  return (await ask('bundle', {})).bundle;
}

/** A failed start is reported where the suite awaits it, not as an unhandled rejection. */
function early<T>(started: Promise<T>): Promise<T> {
  started.catch(() => {});
  return started;
}

type Answers = {
  shared: { url: string };
  fresh: { url: string; id: number };
  stop: object;
  bundle: { bundle: string };
};

async function ask<P extends keyof Answers>(path: P, request: BrokerRequest): Promise<Answers[P]> {
  const broker = inject('proxyBroker');
  if (!broker) throw new Error('no proxy broker: run with vitest.config.ts, whose globalSetup starts it');
  const res = await fetch(`${broker}${path}`, { method: 'POST', body: JSON.stringify(request) });
  const answer = (await res.json()) as BrokerAnswer;
  if ('error' in answer) throw new Error(answer.error);
  return answer as Answers[P];
}
