import { LRUCache } from 'lru-cache';
import type { Config, RateLimitSpec } from '../config/config.ts';
import type { HeaderMap } from '../core/fields.ts';

/** One request's verdict from a limiter. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Requests per window. */
  readonly limit: number;
  /** Requests left after this one. */
  readonly remaining: number;
  /** Seconds until the whole budget is back. */
  readonly reset: number;
  /** Seconds until the next request would be allowed (0 when allowed). */
  readonly retryAfter: number;
}

/**
 * Where budgets live. Node uses memory or Redis, Workers the Rate Limiting
 * binding or a Durable Object; the app only sees this.
 */
export interface RateLimiter {
  /**
   * Spends one request of `key`'s budget. `spec` is the budget's size: an
   * access key's own (CORSWAY_KEYS) or, by default, the limiter's.
   */
  consume(key: string, spec?: RateLimitSpec): Promise<RateLimitDecision>;
}

/**
 * Rounding tolerance of GCRA's sums: a timestamp near 1.7e12 ms is exact only
 * to about 0.0002 ms, and `interval` is rarely a whole number (60000 / 7).
 * Up to 1 ms, never more than a quarter interval, counts as on time.
 */
const SLACK_MS = 1;

/**
 * GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp
 * per key): each request moves the key's "theoretical arrival time" one
 * emission interval on; a request is allowed while that time stays within one
 * window of now. Budgets refill continuously per key, never all at once.
 *
 * Returns the new arrival time to store, or null when refused (nothing changes).
 */
export function gcra(
  spec: RateLimitSpec,
  storedTat: number | undefined,
  now: number,
): { decision: RateLimitDecision; tat: number | null } {
  const windowMs = spec.windowSeconds * 1000;
  const interval = windowMs / spec.limit;
  const tat = Math.max(storedTat ?? now, now);
  const next = tat + interval;
  const slack = Math.min(SLACK_MS, interval / 4);
  const allowed = next - now <= windowMs + slack;
  const basis = allowed ? next : tat;
  const remaining = Math.max(0, Math.floor((windowMs - (basis - now) + slack) / interval));
  return {
    decision: {
      allowed,
      limit: spec.limit,
      remaining,
      reset: Math.ceil(Math.round(basis - now) / 1000),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil(Math.round(next - windowMs - now) / 1000)),
    },
    tat: allowed ? next : null,
  };
}

/**
 * Whether any budget is counted (CORSWAY_RATE_LIMIT, CORSWAY_BANDWIDTH_LIMIT,
 * or an access key's own limits), and the size a store defaults to; every
 * caller names its budget's size, so for bandwidth alone any will do.
 */
export function usesBudgets(config: Config): RateLimitSpec | null {
  const used = config.rateLimit || config.bandwidthLimit || config.keys.some((k) => k.rateLimit || k.bandwidthLimit);
  return used ? (config.rateLimit ?? { limit: 1, windowSeconds: 1 }) : null;
}

/** Default number of client keys kept in memory; the least recently seen go first. */
export const MEMORY_LIMITER_KEYS = 100_000;

/**
 * Budgets in this process's memory (lru-cache), bounded in keys so a flood of
 * distinct addresses cannot grow it without limit. An evicted key starts
 * afresh, so the bound should exceed the number of clients seen per window.
 *
 * Entries have no TTL: an old arrival time already reads as a full budget
 * (docs/decisions/memory-limiter-no-ttl.md).
 */
export function memoryLimiter(
  spec: RateLimitSpec,
  options: {
    /** Most keys kept. @default MEMORY_LIMITER_KEYS (100000) */
    maxKeys?: number;
    /** The clock, in ms; tests pass their own. @default Date.now */
    now?: () => number;
  } = {},
): RateLimiter {
  const now = options.now ?? Date.now;
  const tats = new LRUCache<string, number>({ max: options.maxKeys ?? MEMORY_LIMITER_KEYS });
  return {
    async consume(key, size = spec) {
      const { decision, tat } = gcra(size, tats.get(key), now());
      if (tat !== null) tats.set(key, tat);
      return decision;
    },
  };
}

/**
 * The fields of draft-ietf-httpapi-ratelimit-headers (`RateLimit-Policy`,
 * `RateLimit`) and the older draft's `RateLimit-Limit/-Remaining/-Reset` trio.
 */
export function rateLimitHeaders(d: RateLimitDecision, windowSeconds: number): Record<string, string> {
  return {
    'ratelimit-policy': `"corsway";q=${d.limit};w=${windowSeconds}`,
    ratelimit: `"corsway";r=${d.remaining};t=${d.reset}`,
    'ratelimit-limit': String(d.limit),
    'ratelimit-remaining': String(d.remaining),
    'ratelimit-reset': String(d.reset),
  };
}

/** The older draft's fields: one value each, so they cannot be combined with a target's. */
const SINGLE_VALUED = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/**
 * Adds our fields to a proxied response without hiding the target's own.
 * `RateLimit` and `RateLimit-Policy` are structured-field lists (RFC 9651 3.1),
 * so ours joins the target's as one more member. The older trio is single
 * valued: when the target sent any of it, its values are kept and ours left out.
 */
export function mergeRateLimitHeaders(headers: HeaderMap, ours: Readonly<Record<string, string>>): void {
  const targetHasTrio = SINGLE_VALUED.some((name) => headers.has(name));
  for (const [name, value] of Object.entries(ours)) {
    if (!SINGLE_VALUED.includes(name)) headers.append(name, value);
    else if (!targetHasTrio) headers.set(name, value);
  }
}

/** The part of the Workers Rate Limiting binding corsway uses (`env.CORSWAY_RATE_LIMITER`). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** The periods a Rate Limiting binding can count over (Cloudflare's `simple.period`). */
const BINDING_PERIODS = [10, 60];

/**
 * The problem with pairing `spec` (`CORSWAY_RATE_LIMIT`) and `shards`
 * (`CORSWAY_RATE_LIMIT_SHARDS`) with a Rate Limiting binding, or null. The
 * binding cannot report its own numbers, so the headers come from `spec`,
 * which must therefore describe the same budget; and it counts that one size,
 * so a part of a split budget would silently be counted per isolate instead.
 */
export function bindingProblem(spec: RateLimitSpec | null, shards = 1): string | null {
  if (shards > 1) {
    return 'CORSWAY_RATE_LIMIT_SHARDS: the CORSWAY_RATE_LIMITER binding counts one budget size per location and cannot split it; keep 1 with the binding, or split Durable Object budgets (CORSWAY_BUDGETS) instead';
  }
  if (!spec) {
    return 'CORSWAY_RATE_LIMIT: the CORSWAY_RATE_LIMITER binding is configured; set CORSWAY_RATE_LIMIT to its numbers (limit/period, e.g. 100/1m) to turn rate limiting on';
  }
  if (!BINDING_PERIODS.includes(spec.windowSeconds)) {
    return `CORSWAY_RATE_LIMIT: a Rate Limiting binding counts over 10 s or 60 s only, got a ${spec.windowSeconds} s window`;
  }
  return null;
}

/**
 * A Workers Rate Limiting binding decides allowed/refused, counted by
 * Cloudflare per location. It reports nothing else, so `numbers` (a per-isolate
 * limiter with the same spec) supplies the header values: approximate there,
 * and the decision too should the binding ever fail.
 */
export function bindingLimiter(binding: RateLimitBinding, numbers: RateLimiter, spec: RateLimitSpec): RateLimiter {
  return {
    async consume(key, size = spec) {
      // The binding counts its own configured budget only; an access key's own size is counted in this isolate.
      if (size.limit !== spec.limit || size.windowSeconds !== spec.windowSeconds) return numbers.consume(key, size);
      const [success, local] = await Promise.all([
        binding.limit({ key }).then(
          (outcome) => outcome.success,
          (error: unknown) => {
            // The binding is a local service of the Workers runtime; if it ever fails, the isolate's count decides.
            console.error('corsway: the CORSWAY_RATE_LIMITER binding failed; counting in this isolate', error);
            return null;
          },
        ),
        numbers.consume(key),
      ]);
      if (success === null || success === local.allowed) return local;
      if (success) return { ...local, allowed: true, retryAfter: 0 };
      // Refused elsewhere in this location: this isolate's estimate of a full budget is the best wait known.
      return { ...local, allowed: false, remaining: 0, retryAfter: Math.max(1, local.reset) };
    },
  };
}
