import { LRUCache } from 'lru-cache';
import type { RateLimitDecision, RateLimiter } from './rate-limit.ts';

/** Refused budgets an instance remembers; the least recently refused go first (a forgotten one asks the store again). */
export const REFUSAL_MEMO_KEYS = 10_000;

interface Refusal {
  readonly decision: RateLimitDecision;
  /** When the store refused, in ms. */
  readonly at: number;
  /** When the store said one more request would be allowed, in ms. */
  readonly until: number;
}

/**
 * Answers a spent budget's requests from memory until the store's own
 * `Retry-After` has passed, so a client hammering a spent budget costs a
 * shared store (a Durable Object: about 1,000 requests/s each, refused ones
 * included) one call per Retry-After per instance instead of one per request.
 * Exact: a budget in the store only drains as other instances spend it, so
 * it cannot admit a request sooner than it said; Retry-After is rounded up to
 * whole seconds, so a refusal may last up to a second longer than the store's.
 */
export function withRefusalMemo(
  store: RateLimiter,
  /** The clock, in ms; tests pass their own. */
  now: () => number = Date.now,
): RateLimiter {
  const refused = new LRUCache<string, Refusal>({ max: REFUSAL_MEMO_KEYS });
  return {
    async consume(key, size) {
      // Budget sizes differ by access key, and an operator may change them: remember each size apart.
      const name = size ? `${key} ${size.limit}/${size.windowSeconds}` : key;
      const t = now();
      const memo = refused.get(name);
      if (memo && t < memo.until) {
        const elapsed = (t - memo.at) / 1000;
        return {
          ...memo.decision,
          reset: Math.max(0, Math.ceil(memo.decision.reset - elapsed)),
          retryAfter: Math.max(1, Math.ceil((memo.until - t) / 1000)),
        };
      }
      const decision = await store.consume(key, size);
      if (decision.allowed) refused.delete(name);
      else refused.set(name, { decision, at: t, until: t + decision.retryAfter * 1000 });
      return decision;
    },
  };
}
