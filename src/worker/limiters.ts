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

/** Where the Worker's budgets live, and what `/healthz` says about them. */
export interface WorkerLimiter {
  readonly limiter: RateLimiter | undefined;
  /** Why budgets are kept per isolate right now, or null. */
  readonly health: () => string | null;
}

/**
 * With a Rate Limiting binding (CORSWAY_RATE_LIMITER), Cloudflare decides per
 * location; else with the Durable Object binding (CORSWAY_BUDGETS, in
 * wrangler.toml by default) one object per budget key decides, exactly; else
 * each isolate counts in memory, which `/healthz` says, since an isolate is
 * one of many and its budgets are a fraction of the whole.
 */
export function workerLimiter(config: Config, env: Env): WorkerLimiter {
  const spec = config.rateLimit;
  const binding = env.CORSWAY_RATE_LIMITER as RateLimitBinding | undefined;
  const budgets = env.CORSWAY_BUDGETS as DurableObjectNamespace<RateLimitBudget> | undefined;
  if (binding) {
    const problem = bindingProblem(spec);
    if (problem) throw new ConfigError([problem]);
    return { limiter: spec ? bindingLimiter(binding, memoryLimiter(spec)) : undefined, health: () => null };
  }
  if (!spec) return { limiter: undefined, health: () => null };
  if (!budgets) {
    const perIsolate = 'rate limits are counted per isolate (no CORSWAY_BUDGETS or CORSWAY_RATE_LIMITER binding)';
    return { limiter: memoryLimiter(spec), health: () => perIsolate };
  }
  const durable = withFailover(durableLimiter(budgets, spec), spec, {
    mode: config.rateLimitFailure,
    name: 'Durable Object',
  });
  const fallback =
    config.rateLimitFailure === 'open' ? 'counting per isolate until it answers' : 'refusing until it answers';
  return {
    limiter: durable,
    health: () => {
      const problem = durable.problem();
      return problem && `${problem}; ${fallback}`;
    },
  };
}
