import type { Config, Env } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import type { ByteLimiter } from '../limiters/bandwidth.ts';
import { durableByteLimiter, durableLimiter, type RateLimitBudget } from '../limiters/durable.ts';
import { withByteFailover, withFailover } from '../limiters/failover.ts';
import {
  bindingLimiter,
  bindingProblem,
  memoryLimiter,
  type RateLimitBinding,
  type RateLimiter,
  usesBudgets,
} from '../limiters/rate-limit.ts';
import { withRefusalMemo } from '../limiters/refusal-memo.ts';

/** Where the Worker's budgets live, and whether their shared store answers. */
export interface WorkerLimiter {
  readonly limiter: RateLimiter | undefined;
  /** Bandwidth budgets: in Durable Objects when bound, whichever store counts requests; else per isolate. */
  readonly bytes: ByteLimiter | undefined;
  /** Why the Durable Object store is not answering (budgets then fall back per isolate), or null; for `/healthz`. */
  readonly health: () => string | null;
}

const none = () => null;

/**
 * With a Rate Limiting binding (CORSWAY_RATE_LIMITER), Cloudflare decides per
 * location; else with the Durable Object binding (CORSWAY_BUDGETS, in
 * wrangler.toml by default) one object per budget key (per part of a split
 * one, CORSWAY_RATE_LIMIT_SHARDS) decides, exactly, and
 * while it fails each isolate counts on its own (`/healthz` says degraded);
 * else each isolate counts in memory, a fraction of the whole, which the log
 * says once per isolate.
 */
export function workerLimiter(config: Config, env: Env): WorkerLimiter {
  // Access keys' own budgets count too: their sizes are given per request.
  const spec = usesBudgets(config);
  const binding = env.CORSWAY_RATE_LIMITER as RateLimitBinding | undefined;
  const budgets = env.CORSWAY_BUDGETS as DurableObjectNamespace<RateLimitBudget> | undefined;
  const bytes =
    budgets && spec
      ? withByteFailover(durableByteLimiter(budgets), { mode: config.rateLimitFailure, name: 'Durable Object' })
      : undefined;
  if (binding) {
    const problem = bindingProblem(config.rateLimit, config.rateLimitShards);
    if (problem) throw new ConfigError([problem]);
    const own = config.rateLimit;
    return { limiter: own ? bindingLimiter(binding, memoryLimiter(own), own) : undefined, bytes, health: none };
  }
  if (!spec) return { limiter: undefined, bytes, health: none };
  if (!budgets) {
    console.warn(
      'corsway: CORSWAY_RATE_LIMIT is counted per isolate: bind CORSWAY_BUDGETS or CORSWAY_RATE_LIMITER (wrangler.toml) to share budgets',
    );
    return { limiter: memoryLimiter(spec), bytes, health: none };
  }
  // A spent budget's refusals are answered in the isolate: a flood of them would otherwise overload its object.
  const durable = withFailover(withRefusalMemo(durableLimiter(budgets, spec)), spec, {
    mode: config.rateLimitFailure,
    name: 'Durable Object',
  });
  return { limiter: durable, bytes, health: durable.problem };
}
