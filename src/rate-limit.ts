import { LRUCache } from 'lru-cache';
import type { RateLimitSpec } from './config.ts';

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
  consume(key: string): Promise<RateLimitDecision>;
}

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
  const allowed = next - now <= windowMs;
  const basis = allowed ? next : tat;
  const remaining = Math.max(0, Math.floor((windowMs - (basis - now)) / interval));
  return {
    decision: {
      allowed,
      limit: spec.limit,
      remaining,
      reset: Math.ceil((basis - now) / 1000),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((next - windowMs - now) / 1000)),
    },
    tat: allowed ? next : null,
  };
}

/** Default number of client keys kept in memory; the least recently seen go first. */
export const MEMORY_LIMITER_KEYS = 100_000;

/**
 * Budgets in this process's memory (lru-cache), bounded in keys so a flood of
 * distinct addresses cannot grow it without limit. An evicted key starts
 * afresh, so the bound should exceed the number of clients seen per window.
 */
export function memoryLimiter(
  spec: RateLimitSpec,
  options: { maxKeys?: number; now?: () => number } = {},
): RateLimiter {
  const now = options.now ?? Date.now;
  const tats = new LRUCache<string, number>({
    max: options.maxKeys ?? MEMORY_LIMITER_KEYS,
    // A key whose arrival time has passed holds a full budget: forget it.
    ttl: spec.windowSeconds * 1000,
    ttlAutopurge: false,
  });
  return {
    async consume(key) {
      const t = now();
      const { decision, tat } = gcra(spec, tats.get(key), t);
      if (tat !== null) tats.set(key, tat, { ttl: Math.max(1, Math.ceil(tat - t)) });
      return decision;
    },
  };
}

/** The IETF draft fields and the older `RateLimit-*` trio for a decision. */
export function rateLimitHeaders(d: RateLimitDecision, windowSeconds: number): Record<string, string> {
  return {
    'ratelimit-policy': `"corsway";q=${d.limit};w=${windowSeconds}`,
    ratelimit: `"corsway";r=${d.remaining};t=${d.reset}`,
    'ratelimit-limit': String(d.limit),
    'ratelimit-remaining': String(d.remaining),
    'ratelimit-reset': String(d.reset),
  };
}
