import type { RateLimitSpec } from '../config/config.ts';
import { type ByteLimiter, memoryByteLimiter } from './bandwidth.ts';
import { memoryLimiter, type RateLimitDecision, type RateLimiter } from './rate-limit.ts';

/** A limiter whose budgets live in another process (Redis, a Durable Object), which can be away. */
export interface SharedLimiter extends RateLimiter {
  /** Why the shared store is not answering right now, or null while it is; for `/healthz`. */
  problem(): string | null;
}

/** After a failure, requests skip the store for this long, so a hung store costs one timeout, not one per request. */
const SKIP_AFTER_FAILURE_MS = 1_000;
/** `Retry-After` of a request refused because the store is away (`closed`): about one reconnect attempt. */
const STORE_DOWN_RETRY_AFTER_S = 2;

/**
 * Wraps a shared store with the operator's `CORSWAY_RATE_LIMIT_FAILURE` choice.
 * While `store` fails, `open` counts requests against this instance's own
 * memory budget (so N instances let at most N budgets through, not unlimited)
 * and `closed` refuses them. The outage and the recovery are logged once each.
 */
export function withFailover(
  store: RateLimiter,
  spec: RateLimitSpec,
  options: { mode: 'open' | 'closed'; name: string },
): SharedLimiter {
  const fallback = memoryLimiter(spec);
  let down: string | null = null;
  let skipUntil = 0;

  function failed(error: unknown): void {
    skipUntil = Date.now() + SKIP_AFTER_FAILURE_MS;
    if (down !== null) return;
    down = `${options.name} unreachable (${error instanceof Error ? error.message : String(error)})`;
    console.error(
      `corsway: rate-limit store ${down}; failing ${options.mode}: ${
        options.mode === 'open'
          ? 'each instance counts its own budget until it is back'
          : 'rate-limited requests are refused until it is back'
      }`,
    );
  }

  return {
    async consume(key, size = spec) {
      if (Date.now() >= skipUntil) {
        try {
          const decision = await store.consume(key, size);
          if (down !== null) {
            down = null;
            console.error(`corsway: rate-limit store ${options.name} reachable again; budgets are shared again`);
          }
          return decision;
        } catch (error) {
          failed(error);
        }
      }
      return options.mode === 'open' ? fallback.consume(key, size) : refusal(size);
    },
    problem: () => down,
  };
}

function refusal(spec: RateLimitSpec): RateLimitDecision {
  return {
    allowed: false,
    limit: spec.limit,
    remaining: 0,
    reset: STORE_DOWN_RETRY_AFTER_S,
    retryAfter: STORE_DOWN_RETRY_AFTER_S,
  };
}

/**
 * withFailover() for bandwidth budgets: while `store` fails, `open` counts
 * bytes in this instance's memory and `closed` refuses new requests; bytes
 * already relayed are charged to memory either way.
 */
export function withByteFailover(store: ByteLimiter, options: { mode: 'open' | 'closed'; name: string }): ByteLimiter {
  const fallback = memoryByteLimiter();
  let skipUntil = 0;
  let down = false;
  const failed = (error: unknown) => {
    skipUntil = Date.now() + SKIP_AFTER_FAILURE_MS;
    if (down) return;
    down = true;
    console.error(
      `corsway: bandwidth store ${options.name} unreachable (${error instanceof Error ? error.message : String(error)}); failing ${options.mode}`,
    );
  };
  const recovered = () => {
    if (!down) return;
    down = false;
    console.error(`corsway: bandwidth store ${options.name} reachable again`);
  };
  return {
    async check(key, spec) {
      if (Date.now() >= skipUntil) {
        try {
          const decision = await store.check(key, spec);
          recovered();
          return decision;
        } catch (error) {
          failed(error);
        }
      }
      return options.mode === 'open' ? fallback.check(key, spec) : refusal(spec);
    },
    async charge(key, spec, bytes) {
      if (Date.now() >= skipUntil) {
        try {
          await store.charge(key, spec, bytes);
          recovered();
          return;
        } catch (error) {
          failed(error);
        }
      }
      await fallback.charge(key, spec, bytes);
    },
  };
}
