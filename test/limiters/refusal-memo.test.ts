import { describe, expect, test } from 'vitest';
import { memoryLimiter, type RateLimiter } from '../../src/limiters/rate-limit.ts';
import { withRefusalMemo } from '../../src/limiters/refusal-memo.ts';

const spec = { limit: 2, windowSeconds: 60 };

/** A store counting the calls that reach it, on the test's clock (a stand-in for a Durable Object). */
function countingStore(clock: { now: number }) {
  const inner = memoryLimiter(spec, { now: () => clock.now });
  const calls: string[] = [];
  const store: RateLimiter = {
    consume(key, size) {
      calls.push(key);
      return inner.consume(key, size);
    },
  };
  return { store, calls };
}

describe('refusals remembered in front of a shared store (withRefusalMemo)', () => {
  test('a client sending 20 requests into a spent 2/1m budget within 30 s -> the store is asked 3 times, not 20', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { store, calls } = countingStore(clock);
    const limiter = withRefusalMemo(store, () => clock.now);
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const d = await limiter.consume('origin:https://a.test#1/4');
      seen.push(`${d.allowed ? 200 : 429} ${d.retryAfter}`);
      clock.now += 1_500;
    }
    // 2 allowed, then refused until the store's Retry-After (27 s after the 3rd request, at 3 s) has passed.
    expect(seen.slice(0, 5)).toEqual(['200 0', '200 0', '429 27', '429 26', '429 24']);
    expect(seen.filter((s) => s.startsWith('200'))).toHaveLength(2);
    expect(calls).toHaveLength(3);
  });

  test('never admits what the store would refuse: after Retry-After the store decides again (one request back)', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { store, calls } = countingStore(clock);
    const limiter = withRefusalMemo(store, () => clock.now);
    await limiter.consume('k');
    await limiter.consume('k');
    const refused = await limiter.consume('k');
    expect(refused).toMatchObject({ allowed: false, retryAfter: 30, remaining: 0 });
    clock.now += 29_999;
    expect(await limiter.consume('k')).toMatchObject({ allowed: false, retryAfter: 1 });
    expect(calls).toHaveLength(3);
    clock.now += 1;
    expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.consume('k')).toMatchObject({ allowed: false });
    expect(calls).toHaveLength(5);
  });

  test('a remembered refusal counts its Reset down; other keys and other sizes of the same key still reach the store', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { store, calls } = countingStore(clock);
    const limiter = withRefusalMemo(store, () => clock.now);
    for (let i = 0; i < 3; i++) await limiter.consume('k');
    clock.now += 10_000;
    expect(await limiter.consume('k')).toMatchObject({ allowed: false, reset: 50, retryAfter: 20 });
    expect(await limiter.consume('other')).toMatchObject({ allowed: true });
    await limiter.consume('k', { limit: 5, windowSeconds: 60 });
    expect(calls).toEqual(['k', 'k', 'k', 'other', 'k']);
  });
});
