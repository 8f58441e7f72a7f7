import { inject } from 'vitest';
import type { BrokerAnswer } from './proxy-broker.ts';
import type { ProxyEnv, RunningProxy, Runtime } from './runtimes.ts';

/** A proxy shared by the files of a run: where it listens, not how to stop it (the run does). */
export type SharedProxy = Pick<RunningProxy, 'url' | 'runtime'>;

/**
 * The run's proxy for `runtime` with `env` (proxy-broker.ts), asked for as
 * soon as the suite is collected, like startProxyEarly. Only for suites that
 * leave no state behind in the proxy: with a rate limit or a cache, a file
 * needs its own (startProxyEarly).
 */
export function sharedProxy(runtime: Runtime, env: ProxyEnv = {}): Promise<SharedProxy> {
  const started = ask(runtime, env);
  // A failed start is reported where the suite awaits it.
  started.catch(() => {});
  return started;
}

async function ask(runtime: Runtime, env: ProxyEnv): Promise<SharedProxy> {
  const broker = inject('proxyBroker');
  if (!broker) throw new Error('no proxy broker: run with vitest.config.ts, whose globalSetup starts it');
  const res = await fetch(broker, { method: 'POST', body: JSON.stringify({ runtime, env }) });
  const answer = (await res.json()) as BrokerAnswer;
  if ('error' in answer) throw new Error(answer.error);
  return { url: answer.url, runtime };
}
