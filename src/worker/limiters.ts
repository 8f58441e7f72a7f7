import type { Config, Env } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import { durableLimiter, type RateLimitBudget } from '../limiters/durable.ts';
import { withFailover } from '../limiters/failover.ts';
import {
  bindingLimiter,
  bindingProblem,
  memoryLimiter,
  type RateLimitBinding,
  type RateLimiter,
} from '../limiters/rate-limit.ts';

/** Where the Worker's budgets live, and whether their shared store answers. */
export interface WorkerLimiter {
  readonly limiter: RateLimiter | undefined;
  /** Why the Durable Object store is not answering (budgets then fall back per isolate), or null; for `/healthz`. */
  readonly health: () => string | null;
}

const none = () => null;

/**
 * With a Rate Limiting binding (CORSWAY_RATE_LIMITER), Cloudflare decides per
 * location; else with the Durable Object binding (CORSWAY_BUDGETS, in
 * wrangler.toml by default) one object per budget key decides, exactly, and
 * while it fails each isolate counts on its own (`/healthz` says degraded);
 * else each isolate counts in memory, a fraction of the whole, which the log
 * says once per isolate.
 */
export function workerLimiter(config: Config, env: Env): WorkerLimiter {
  const spec = config.rateLimit;
  const binding = env.CORSWAY_RATE_LIMITER as RateLimitBinding | undefined;
  const budgets = env.CORSWAY_BUDGETS as DurableObjectNamespace<RateLimitBudget> | undefined;
  if (binding) {
    const problem = bindingProblem(spec);
    if (problem) throw new ConfigError([problem]);
    return { limiter: spec ? bindingLimiter(binding, memoryLimiter(spec), spec) : undefined, health: none };
  }
  if (!spec) return { limiter: undefined, health: none };
  if (!budgets) {
    console.warn(
      'corsway: CORSWAY_RATE_LIMIT is counted per isolate: bind CORSWAY_BUDGETS or CORSWAY_RATE_LIMITER (wrangler.toml) to share budgets',
    );
    return { limiter: memoryLimiter(spec), health: none };
  }
  const durable = withFailover(durableLimiter(budgets, spec), spec, {
    mode: config.rateLimitFailure,
    name: 'Durable Object',
  });
  return { limiter: durable, health: durable.problem };
}
