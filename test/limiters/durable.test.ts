import { afterAll, beforeAll } from 'vitest';
import type { RateLimitDecision } from '../../src/limiters/rate-limit.ts';
import { limiterContract } from '../support/limiter-contract.ts';
import { type RunningProxy as RunningWorker, startWorker } from '../support/runtimes.ts';

let worker: RunningWorker;

beforeAll(async () => {
  worker = await startWorker({}, ['--config', 'test/limiters/durable/wrangler.toml']);
});
afterAll(async () => {
  await worker?.stop();
});

// Each consume() is one request to a Worker in workerd that asks the key's RateLimitBudget object.
limiterContract('Durable Object (workerd)', (spec) => ({
  async consume(key) {
    const res = await fetch(`${worker.url}/consume`, { method: 'POST', body: JSON.stringify({ key, spec }) });
    if (!res.ok) throw new Error(`POST /consume -> ${res.status}: ${await res.text()}`);
    return (await res.json()) as RateLimitDecision;
  },
}));
