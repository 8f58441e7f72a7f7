import { afterEach, describe, expect, test, vi } from 'vitest';
import { withFailover } from '../../src/limiters/failover.ts';
import type { RateLimiter } from '../../src/limiters/rate-limit.ts';

const spec = { limit: 2, windowSeconds: 60 };

/** A shared store that can be switched off, counting the calls that reach it. */
function flakyStore() {
  const state = { up: false, calls: 0 };
  const store: RateLimiter = {
    async consume() {
      state.calls++;
      if (!state.up) throw new Error('Durable Object overloaded');
      return { allowed: true, limit: spec.limit, remaining: 1, reset: 30, retryAfter: 0 };
    },
  };
  return { state, store };
}

describe('a shared store that fails (a Durable Object call throws, Redis is away)', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  test('open: requests count against this instance memory budget (2 pass, the 3rd is refused), logged once', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { store } = flakyStore();
    const limiter = withFailover(store, spec, { mode: 'open', name: 'Durable Object' });
    const decisions = await Promise.all([1, 2, 3].map(() => limiter.consume('ip:198.51.100.1')));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(limiter.problem()).toMatch(/^Durable Object unreachable \(Durable Object overloaded\)/);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0]?.[0])).toMatch(/failing open/);
  });

  test('closed: every request is refused with Retry-After while the store is away', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { store } = flakyStore();
    const limiter = withFailover(store, spec, { mode: 'closed', name: 'Durable Object' });
    const d = await limiter.consume('ip:198.51.100.1');
    expect(d).toMatchObject({ allowed: false, limit: 2, remaining: 0 });
    expect(d.retryAfter).toBeGreaterThan(0);
  });

  test('after a failure the store is skipped for a second, then asked again; an answer clears the problem', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { state, store } = flakyStore();
    const limiter = withFailover(store, spec, { mode: 'closed', name: 'Redis' });
    await limiter.consume('k');
    await limiter.consume('k');
    // A hung store costs one timeout per second, not one per request.
    expect(state.calls).toBe(1);
    state.up = true;
    vi.setSystemTime(1_001_001);
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect(state.calls).toBe(2);
    expect(limiter.problem()).toBeNull();
    expect(String(errors.mock.calls.at(-1)?.[0])).toMatch(/reachable again/);
  });
});
