import { describe, expect, test, vi } from 'vitest';
import {
  bindingLimiter,
  bindingProblem,
  gcra,
  memoryLimiter,
  mergeRateLimitHeaders,
  type RateLimitBinding,
  rateLimitHeaders,
} from '../../src/limiters/rate-limit.ts';
import { limiterContract } from '../support/limiter-contract.ts';

// The memory store takes a clock: its contract moves it instead of sleeping.
let contractNow = 1_700_000_000_000;
limiterContract(
  'memory',
  (spec) => memoryLimiter(spec, { now: () => contractNow }),
  async (ms) => {
    contractNow += ms;
  },
);

/** A memory limiter on a clock the test moves. */
function clocked(limit: number, windowSeconds: number, maxKeys?: number) {
  let now = 1_700_000_000_000;
  const limiter = memoryLimiter({ limit, windowSeconds }, { now: () => now, maxKeys });
  return {
    consume: (key: string) => limiter.consume(key),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('GCRA', () => {
  test.each([
    [1, 1],
    [3, 2],
    [7, 60],
    [60, 60],
    [1000, 3600],
  ])('%i/%is at one instant: exactly the budget passes, Remaining counts down to 0', async (limit, windowSeconds) => {
    const l = clocked(limit, windowSeconds);
    const decisions = [];
    for (let i = 0; i <= limit; i++) decisions.push(await l.consume('k'));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(limit);
    expect(decisions.at(-1)?.allowed).toBe(false);
    expect(decisions.map((d) => d.remaining)).toEqual([...Array.from({ length: limit }, (_, i) => limit - 1 - i), 0]);
    // Spent at one instant: the whole budget is back one window later.
    expect(decisions.at(-2)?.reset).toBe(windowSeconds);
    expect(decisions.at(-1)?.retryAfter).toBe(Math.ceil(windowSeconds / limit));
  });

  test('6/1m: a spent budget refills one request every 10 s, not all at once', async () => {
    const l = clocked(6, 60);
    for (let i = 0; i < 6; i++) await l.consume('k');
    l.advance(9_990);
    expect((await l.consume('k')).allowed).toBe(false);
    l.advance(10);
    const one = await l.consume('k');
    expect(one).toMatchObject({ allowed: true, remaining: 0 });
    expect((await l.consume('k')).retryAfter).toBe(10);
    l.advance(60_000);
    expect(await l.consume('k')).toMatchObject({ allowed: true, remaining: 5, reset: 10 });
  });

  test('2/1m: budgets of different keys recover on their own schedule (no global reset)', async () => {
    const l = clocked(2, 60);
    await l.consume('a');
    await l.consume('a');
    l.advance(30_000);
    await l.consume('b');
    await l.consume('b');
    l.advance(30_000);
    // a spent its budget a window ago: all of it is back; b only half a window ago: one request of two.
    expect((await Promise.all([l.consume('a'), l.consume('a')])).map((d) => d.allowed)).toEqual([true, true]);
    expect((await Promise.all([l.consume('b'), l.consume('b')])).map((d) => d.allowed)).toEqual([true, false]);
  });

  test('a refused request spends nothing', () => {
    const spec = { limit: 1, windowSeconds: 10 };
    const first = gcra(spec, undefined, 0);
    const refused = gcra(spec, first.tat ?? undefined, 5_000);
    expect(refused.tat).toBeNull();
    expect(refused.decision).toMatchObject({ allowed: false, remaining: 0, retryAfter: 5, reset: 5 });
  });

  test('a clock that steps back does not grant a fresh budget', () => {
    const spec = { limit: 1, windowSeconds: 10 };
    const first = gcra(spec, undefined, 50_000);
    expect(gcra(spec, first.tat ?? undefined, 40_000).decision.allowed).toBe(false);
  });

  test('maxKeys bounds memory: the least recently seen key is forgotten and starts afresh', async () => {
    const l = clocked(1, 60, 2);
    await l.consume('a');
    await l.consume('b');
    expect((await l.consume('a')).allowed).toBe(false);
    await l.consume('c'); // evicts b, the least recently used
    expect((await l.consume('a')).allowed).toBe(false);
    expect((await l.consume('b')).allowed).toBe(true);
  });
});

describe('RateLimit header fields', () => {
  test('60/1m after one request: draft fields and the older trio', () => {
    const headers = rateLimitHeaders({ allowed: true, limit: 60, remaining: 59, reset: 1, retryAfter: 0 }, 60);
    expect(headers).toEqual({
      'ratelimit-policy': '"corsway";q=60;w=60',
      ratelimit: '"corsway";r=59;t=1',
      'ratelimit-limit': '60',
      'ratelimit-remaining': '59',
      'ratelimit-reset': '1',
    });
  });

  const ours = rateLimitHeaders({ allowed: true, limit: 3, remaining: 2, reset: 1, retryAfter: 0 }, 2);

  test("a target's RateLimit and RateLimit-Policy are kept, ours joins them", () => {
    const headers = new Headers({ ratelimit: '"api";r=10;t=30', 'ratelimit-policy': '"api";q=100;w=60' });
    mergeRateLimitHeaders(headers, ours);
    expect(headers.get('ratelimit')).toBe('"api";r=10;t=30, "corsway";r=2;t=1');
    expect(headers.get('ratelimit-policy')).toBe('"api";q=100;w=60, "corsway";q=3;w=2');
    expect(headers.get('ratelimit-remaining')).toBe('2');
  });

  test("a target's RateLimit-Limit/-Remaining/-Reset are kept whole, ours left out", () => {
    const headers = new Headers({ 'ratelimit-remaining': '7' });
    mergeRateLimitHeaders(headers, ours);
    expect(headers.get('ratelimit-remaining')).toBe('7');
    expect(headers.has('ratelimit-limit')).toBe(false);
    expect(headers.has('ratelimit-reset')).toBe(false);
    expect(headers.get('ratelimit')).toBe('"corsway";r=2;t=1');
  });
});

describe('Workers Rate Limiting binding', () => {
  function fakeBinding(verdicts: boolean[]): RateLimitBinding & { keys: string[] } {
    const keys: string[] = [];
    return {
      keys,
      async limit({ key }) {
        keys.push(key);
        return { success: verdicts.shift() ?? false };
      },
    };
  }

  test("the binding decides; the isolate's own numbers fill the headers", async () => {
    const binding = fakeBinding([true, false]);
    const limiter = bindingLimiter(binding, memoryLimiter({ limit: 5, windowSeconds: 60 }), {
      limit: 5,
      windowSeconds: 60,
    });
    expect(await limiter.consume('ip:192.0.2.1')).toMatchObject({ allowed: true, limit: 5, remaining: 4 });
    const refused = await limiter.consume('ip:192.0.2.1');
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    expect(refused.retryAfter).toBeGreaterThanOrEqual(1);
    expect(binding.keys).toEqual(['ip:192.0.2.1', 'ip:192.0.2.1']);
  });

  test('a request the binding allows passes even when this isolate counted the budget spent', async () => {
    const limiter = bindingLimiter(fakeBinding([true, true]), memoryLimiter({ limit: 1, windowSeconds: 60 }), {
      limit: 1,
      windowSeconds: 60,
    });
    await limiter.consume('k');
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 0, retryAfter: 0 });
  });

  test("a binding that fails leaves the decision to the isolate's own count", async () => {
    const failing: RateLimitBinding = { limit: () => Promise.reject(new Error('binding unavailable')) };
    const limiter = bindingLimiter(failing, memoryLimiter({ limit: 1, windowSeconds: 60 }), {
      limit: 1,
      windowSeconds: 60,
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.consume('k')).toMatchObject({ allowed: false, remaining: 0 });
      expect(errors).toHaveBeenCalled();
    } finally {
      errors.mockRestore();
    }
  });

  test.each([
    [null, /set CORSWAY_RATE_LIMIT/],
    [{ limit: 100, windowSeconds: 30 }, /10 s or 60 s only, got a 30 s window/],
    [{ limit: 100, windowSeconds: 3600 }, /got a 3600 s window/],
  ])('CORSWAY_RATE_LIMIT %o beside a binding -> invalid_config naming the variable', (spec, message) => {
    expect(bindingProblem(spec)).toMatch(/^CORSWAY_RATE_LIMIT: /);
    expect(bindingProblem(spec)).toMatch(message);
  });

  test('CORSWAY_RATE_LIMIT_SHARDS=4 beside a binding -> invalid_config: the binding cannot split a budget', () => {
    expect(bindingProblem({ limit: 100, windowSeconds: 60 }, 4)).toMatch(/^CORSWAY_RATE_LIMIT_SHARDS: .*cannot split/);
    expect(bindingProblem({ limit: 100, windowSeconds: 60 }, 1)).toBeNull();
  });

  test.each([10, 60])('CORSWAY_RATE_LIMIT with a %i s window beside a binding is fine', (windowSeconds) => {
    expect(bindingProblem({ limit: 5, windowSeconds })).toBeNull();
  });
});
