/**
 * The behaviour every RateLimiter store must share (memory, Redis, Durable
 * Objects ...). Store-agnostic: each test uses fresh random keys, so a store
 * shared between runs or processes needs no cleaning. Budgets recover over a
 * short window: on the test's clock for a store that takes one, else in real time.
 */
import { describe, expect, test } from 'vitest';
import type { RateLimitSpec } from '../../src/config/config.ts';
import type { RateLimitDecision, RateLimiter } from '../../src/limiters/rate-limit.ts';
import { sleep } from './wait.ts';

/** Builds the store under test for one budget; may connect first. */
export type MakeLimiter = (spec: RateLimitSpec) => RateLimiter | Promise<RateLimiter>;

const freshKey = () => `contract:${crypto.randomUUID()}`;

async function spend(limiter: RateLimiter, key: string, n: number): Promise<RateLimitDecision[]> {
  const out: RateLimitDecision[] = [];
  for (let i = 0; i < n; i++) out.push(await limiter.consume(key));
  return out;
}

/**
 * Registers the contract suite for one store. `wait` lets `ms` pass for the
 * store: a store with an injected clock moves it; the default is real time.
 */
export function limiterContract(
  name: string,
  makeLimiter: MakeLimiter,
  wait: (ms: number) => Promise<void> = sleep,
): void {
  describe(`${name} limiter contract`, () => {
    test('5/1m: five requests pass with Remaining 4..0, the sixth is refused', async () => {
      const limiter = await makeLimiter({ limit: 5, windowSeconds: 60 });
      const key = freshKey();
      const decisions = await spend(limiter, key, 6);
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
      expect(decisions.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
      expect(decisions.every((d) => d.limit === 5)).toBe(true);
      expect(decisions.slice(0, 5).every((d) => d.retryAfter === 0)).toBe(true);
    });

    test('5/1m: a refusal says when to retry, within the window, and Reset stays within the window', async () => {
      const limiter = await makeLimiter({ limit: 5, windowSeconds: 60 });
      const decisions = await spend(limiter, freshKey(), 7);
      for (const d of decisions) {
        expect(d.reset).toBeGreaterThanOrEqual(0);
        expect(d.reset).toBeLessThanOrEqual(60);
      }
      const refused = decisions.slice(5);
      for (const d of refused) {
        expect(d.allowed).toBe(false);
        // One request's worth (60 s / 5) comes back first: no waiting for the whole window.
        expect(d.retryAfter).toBeGreaterThanOrEqual(1);
        expect(d.retryAfter).toBeLessThanOrEqual(12);
      }
    });

    test('2/1m: each key has its own budget', async () => {
      const limiter = await makeLimiter({ limit: 2, windowSeconds: 60 });
      const a = freshKey();
      const b = freshKey();
      expect((await spend(limiter, a, 3)).map((d) => d.allowed)).toEqual([true, true, false]);
      expect((await spend(limiter, b, 3)).map((d) => d.allowed)).toEqual([true, true, false]);
    });

    test('5/1m: twenty concurrent requests on one key let exactly five through', async () => {
      const limiter = await makeLimiter({ limit: 5, windowSeconds: 60 });
      const key = freshKey();
      const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.consume(key)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
      expect(
        decisions
          .filter((d) => d.allowed)
          .map((d) => d.remaining)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4]);
    });

    test('3/2s: a spent budget refills per request, then wholly, as time passes', async () => {
      const limiter = await makeLimiter({ limit: 3, windowSeconds: 2 });
      const key = freshKey();
      const spent = Date.now();
      expect((await spend(limiter, key, 4)).map((d) => d.allowed)).toEqual([true, true, true, false]);
      // One request's worth (2 s / 3 = 667 ms) is back before the whole window has passed, and
      // the next is not until 1,333 ms after the first was spent. Timed from that first request,
      // not from the end of the four: on a busy machine their round trips to a store (workerd,
      // Redis) took the margin and the second request below came after 1,333 ms.
      await wait(1_000 - (Date.now() - spent));
      expect((await spend(limiter, key, 2)).map((d) => d.allowed)).toEqual([true, false]);
      await wait(2_200);
      const again = await spend(limiter, key, 4);
      expect(again.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(again[0]?.remaining).toBe(2);
    });
  });
}
