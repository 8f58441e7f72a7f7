import { afterAll } from 'vitest';
import { type ProxyEnv, type RunningProxy, type Runtime, startProxy } from './runtimes.ts';

/**
 * Starts a suite's proxy as soon as the suite is collected, so the runtimes of
 * one file start side by side (wrangler dev takes seconds) instead of the
 * Worker's waiting for the Node leg's tests; the suite's beforeAll awaits it,
 * and it is stopped after the suite.
 */
export function startProxyEarly(runtime: Runtime, env: ProxyEnv = {}): Promise<RunningProxy> {
  const started = startProxy(runtime, env);
  // A failed start is reported where the suite awaits it.
  started.catch(() => {});
  afterAll(async () => {
    await (await started.catch(() => undefined))?.stop();
  });
  return started;
}
