import { LRUCache } from 'lru-cache';
import type { RateLimitSpec } from '../config/config.ts';
import { MEMORY_LIMITER_KEYS, type RateLimitDecision } from './rate-limit.ts';

/**
 * Bandwidth budgets (CORSWAY_BANDWIDTH_LIMIT, a key's `bandwidthLimit`): bytes
 * per window, kept like request budgets as one GCRA arrival time per budget,
 * where each byte moves it one emission interval on. A request is let in while
 * any byte is left; the bytes it relays are charged afterwards, whatever they
 * come to, so a response in flight when the budget runs out still finishes.
 */
export interface ByteLimiter {
  /** Whether `key` has bytes left; spends nothing. */
  check(key: string, spec: RateLimitSpec): Promise<RateLimitDecision>;
  /** Spends `bytes` of `key`'s budget, never refusing. */
  charge(key: string, spec: RateLimitSpec, bytes: number): Promise<void>;
}

/**
 * The arithmetic of both operations on a stored arrival time: `bytes` 0 checks,
 * more charges. Returns the decision before the charge and the time to store.
 */
export function byteGcra(
  spec: RateLimitSpec,
  storedTat: number | undefined,
  now: number,
  bytes: number,
): { decision: RateLimitDecision; tat: number } {
  const windowMs = spec.windowSeconds * 1000;
  const interval = windowMs / spec.limit;
  const tat = Math.max(storedTat ?? now, now);
  const ahead = tat - now;
  const remaining = Math.max(0, Math.floor((windowMs - ahead) / interval));
  const allowed = remaining > 0;
  return {
    decision: {
      allowed,
      limit: spec.limit,
      remaining,
      reset: Math.ceil(ahead / 1000),
      // Until one whole byte is back.
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((ahead - windowMs + interval) / 1000)),
    },
    tat: tat + bytes * interval,
  };
}

/** A bandwidth budget's RateLimit fields: the second policy, counted in content bytes (SPEC). */
export function bandwidthHeaders(d: RateLimitDecision, windowSeconds: number): Record<string, string> {
  return {
    'ratelimit-policy': `"bytes";q=${d.limit};qu="content-bytes";w=${windowSeconds}`,
    ratelimit: `"bytes";r=${d.remaining};t=${d.reset}`,
  };
}

/** Byte budgets in this process's memory, bounded in keys like memoryLimiter. */
export function memoryByteLimiter(
  options: {
    /** Most keys kept. @default MEMORY_LIMITER_KEYS (100000) */
    maxKeys?: number;
    /** The clock, in ms; tests pass their own. @default Date.now */
    now?: () => number;
  } = {},
): ByteLimiter {
  const now = options.now ?? Date.now;
  const tats = new LRUCache<string, number>({ max: options.maxKeys ?? MEMORY_LIMITER_KEYS });
  return {
    async check(key, spec) {
      return byteGcra(spec, tats.get(key), now(), 0).decision;
    },
    async charge(key, spec, bytes) {
      tats.set(key, byteGcra(spec, tats.get(key), now(), bytes).tat);
    },
  };
}

/**
 * Bytes a response may relay before they are charged: a shared store is asked
 * once per this many bytes (and once at the end), never once per chunk.
 */
export const CHARGE_BATCH_BYTES = 256 * 1024;

/** Counts one response's bytes as they are relayed and charges them in batches. */
export interface Meter {
  /** `total` bytes relayed so far. */
  progress(total: number): void;
  /** The response ended (or was abandoned) after `total` bytes: charges what is left. */
  end(total: number): void;
}

/**
 * A meter charging `key`'s budget. Charges are not awaited by the relay;
 * `background` keeps each one alive (a Worker's waitUntil) and a failed one
 * is logged, since the bytes are already sent.
 */
export function meter(
  limiter: ByteLimiter,
  key: string,
  spec: RateLimitSpec,
  background: (charge: Promise<void>) => void,
  batch = CHARGE_BATCH_BYTES,
): Meter {
  let charged = 0;
  let ended = false;
  const charge = (total: number) => {
    const bytes = total - charged;
    if (bytes <= 0) return;
    charged = total;
    background(
      limiter.charge(key, spec, bytes).catch((error: unknown) => {
        console.error('corsway: could not charge a bandwidth budget', error);
      }),
    );
  };
  return {
    progress(total) {
      if (!ended && total - charged >= batch) charge(total);
    },
    end(total) {
      if (ended) return;
      ended = true;
      charge(total);
    },
  };
}
